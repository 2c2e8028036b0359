"""Gradient penalties: terms that differentiate one tensor of the program by another."""

from __future__ import annotations

import torch
from einops import reduce

from gaespec.components.registry import implements


@implements("term", "gradient_penalty")
class GradientPenaltyTerm:
    """‖∂(Σ output)/∂wrt‖², summed over wrt's dims, averaged over the batch (and samples); the
    graph of the gradient is kept (create_graph), so the penalty itself trains."""

    def __call__(self, output: torch.Tensor, wrt: torch.Tensor) -> torch.Tensor:
        (grad,) = torch.autograd.grad(output.sum(), wrt, create_graph=True)
        return reduce(grad**2, "k b ... -> k b", "sum").mean()
