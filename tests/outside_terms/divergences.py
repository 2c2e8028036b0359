"""A divergence gaespec does not have: the squared distance of the codes from the prior's mean,
weighted, with a hinge (no penalty within `radius`). Plain torch; it knows nothing of gaespec."""

from __future__ import annotations

import torch


class HingedCodeNorm:
    """weight · mean over codes of max(‖z‖² − radius², 0)."""

    def __init__(self, weight: float = 1.0, radius: float = 0.0):
        self.weight = weight
        self.radius = radius

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        excess = (z**2).sum(-1) - self.radius**2
        return self.weight * torch.clamp(excess, min=0.0).mean()


class CodeNormPerDatum:
    """scale · mean ‖z‖² / dataset_size: a term that needs the training set's size, which the
    trainer hands the model (as minibatch-weighted estimates of a total correlation do)."""

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def __call__(self, z: torch.Tensor, dataset_size: int) -> torch.Tensor:
        return self.scale * (z**2).sum(-1).mean() / dataset_size
