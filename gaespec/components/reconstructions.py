"""Reconstruction terms: −log p(x|z) up to a constant, summed over pixels, averaged over batch."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gaespec.components.registry import implements


def _reconstruction_arguments(decl, wiring) -> dict:
    return {"likelihood": decl.likelihood, "scale": decl.scale}


@implements("term", "reconstruction", _reconstruction_arguments)
class ReconstructionTerm:
    """scale·Σ(x − x̂)² (gaussian) or scale·Σ BCE(x̂, x) (bernoulli, x̂ are probabilities)."""

    def __init__(self, likelihood: str, scale: float):
        self.likelihood = likelihood
        self.scale = scale

    def per_sample(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        """The term for each of the K samples of each input: x (b ...), x_hat (k b ...) → (k b)."""
        if self.likelihood == "gaussian":
            pixel = (x_hat - x) ** 2  # x broadcast over the K samples
        else:  # binary_cross_entropy takes no broadcast
            pixel = F.binary_cross_entropy(x_hat, x.expand_as(x_hat), reduction="none")
        summed = pixel.flatten(2).sum(-1)  # (k b ...) -> (k b)
        return summed if self.scale == 1.0 else self.scale * summed  # 1.0·s is s, exactly

    def __call__(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        return self.per_sample(x, x_hat).mean()
