"""Posterior heads q(z|x): map encoder features h (b f) to a latent distribution over z (b d)."""

from __future__ import annotations

from typing import ClassVar

from torch import nn

from gaespec.components.distributions import DiagGaussian, PointMass
from gaespec.components.registry import implements


@implements("posterior", "diag_gaussian")
class DiagGaussianPosterior(nn.Module):
    """Two linear heads, mean and log-variance, as in Pythae's benchmark encoders."""

    distribution: ClassVar[type] = DiagGaussian

    def __init__(self, features: int, dim: int):
        super().__init__()
        self.mean = nn.Linear(features, dim)
        self.log_var = nn.Linear(features, dim)

    def forward(self, h):
        return DiagGaussian(self.mean(h), self.log_var(h))


@implements("posterior", "deterministic")
class DeterministicPosterior(nn.Module):
    """One linear head: z = W h + b."""

    distribution: ClassVar[type] = PointMass

    def __init__(self, features: int, dim: int):
        super().__init__()
        self.mean = nn.Linear(features, dim)

    def forward(self, h):
        return PointMass(self.mean(h))
