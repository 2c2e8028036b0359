"""Penalties of the regularised autoencoders (Ghosh et al. 2020, arXiv:1903.12436): the code's
L2 norm, the L2 norm of a module's weights, and gradient penalties (terms that differentiate one
tensor of the program by another)."""

from __future__ import annotations

import torch
from torch import nn

from gaespec.components.registry import implements


@implements("term", "gradient_penalty")
class GradientPenaltyTerm:
    """‖∂(Σ output)/∂wrt‖², summed over wrt's dims, averaged over the batch (and samples); the
    graph of the gradient is kept (create_graph), so the penalty itself trains."""

    def __call__(self, output: torch.Tensor, wrt: torch.Tensor) -> torch.Tensor:
        (grad,) = torch.autograd.grad(output.sum(), wrt, create_graph=True)
        return (grad**2).flatten(2).sum(-1).mean()  # (k b ...) -> (k b), then the mean


@implements("term", "code_l2")
class CodeL2Term:
    """½‖z‖² per code, averaged over samples and batch: z (k b d) → ()."""

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return 0.5 * (z**2).sum(-1).mean()  # (k b d) -> (k b), then the mean


@implements("term", "weight_l2")
class WeightL2Term:
    """Σ θ² over every parameter of `module`: a scalar, the same for every input."""

    def __call__(self, module: nn.Module) -> torch.Tensor:
        return sum((p**2).sum() for p in module.parameters())
