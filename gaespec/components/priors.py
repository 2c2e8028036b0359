"""Priors p(z)."""

from __future__ import annotations

from typing import ClassVar

from torch import nn

from gaespec.components.distributions import StandardNormalDistribution
from gaespec.components.registry import implements


def _prior_arguments(decl, wiring) -> dict:
    return {"latent_dim": wiring.latent_dim}


@implements("prior", "standard_normal", _prior_arguments)
class StandardNormalPrior(nn.Module):
    """p(z) = N(0, I); no parameters."""

    distribution: ClassVar[type] = StandardNormalDistribution

    def __init__(self, latent_dim: int):
        super().__init__()
        self.latent_dim = latent_dim

    def forward(self) -> StandardNormalDistribution:
        return StandardNormalDistribution(self.latent_dim)
