"""Posterior heads q(z|x): map encoder features h (b f) to a latent distribution over z (b d)."""

from __future__ import annotations

from typing import ClassVar

from torch import nn

from gaespec.components.distributions import DiagGaussian, PointMass
from gaespec.components.registry import implements


def _head_arguments(decl, wiring) -> dict:
    return {"features": wiring.features, "latent_dim": wiring.latent_dim}


@implements("posterior", "diag_gaussian", _head_arguments)
class DiagGaussianPosterior(nn.Module):
    """Two linear heads, mean and log-variance, as in Pythae's benchmark encoders."""

    distribution: ClassVar[type] = DiagGaussian

    def __init__(self, features: int, latent_dim: int):
        super().__init__()
        self.mean = nn.Linear(features, latent_dim)
        self.log_var = nn.Linear(features, latent_dim)

    def forward(self, h):
        return DiagGaussian(self.mean(h), self.log_var(h))


@implements("posterior", "deterministic", _head_arguments)
class DeterministicPosterior(nn.Module):
    """One linear head: z = W h + b."""

    distribution: ClassVar[type] = PointMass

    def __init__(self, features: int, latent_dim: int):
        super().__init__()
        self.mean = nn.Linear(features, latent_dim)

    def forward(self, h):
        return PointMass(self.mean(h))
