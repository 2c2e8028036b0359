"""Priors p(z)."""

from __future__ import annotations

from typing import ClassVar

from torch import nn

from gaespec.components.distributions import StandardNormalDistribution
from gaespec.components.registry import implements


@implements("prior", "standard_normal")
class StandardNormalPrior(nn.Module):
    """p(z) = N(0, I); no parameters."""

    distribution: ClassVar[type] = StandardNormalDistribution

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self) -> StandardNormalDistribution:
        return StandardNormalDistribution(self.dim)
