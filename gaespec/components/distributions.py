"""The latent distributions q(z|x) and p(z) as small objects with rsample and log_prob.

Shapes: parameters are (b d); samples are (k b d) for K posterior samples per input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from gaespec.components.noise import batch_draw

LOG_2PI = math.log(2 * math.pi)


@dataclass
class DiagGaussian:
    """N(mean, diag exp(log_var)); mean and log_var are (b d)."""

    mean: torch.Tensor
    log_var: torch.Tensor

    def rsample(self, k: int = 1) -> torch.Tensor:
        """K reparameterised samples z = μ + σ·ε, shape (k b d)."""
        mean = self.mean
        eps = batch_draw(
            lambda shape: torch.randn(shape, dtype=mean.dtype, device=mean.device),
            k * mean.shape[0],
            mean.shape[1],
        )
        if k == 1:  # the same numbers, without the backward's sums over a broadcast sample axis
            return (mean + torch.exp(0.5 * self.log_var) * eps).unsqueeze(0)
        return mean + torch.exp(0.5 * self.log_var) * eps.unflatten(0, (k, -1))  # (k b d)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z), summed over d: (... b d) → (... b)."""
        return self.log_prob_per_dim(z).sum(-1)

    def log_prob_per_dim(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z_d) of each dimension: (... b d), broadcast against mean and log_var."""
        return -0.5 * (LOG_2PI + self.log_var + (z - self.mean) ** 2 / self.log_var.exp())


@dataclass
class PointMass:
    """A deterministic code: every sample is the mean; mean is (b d)."""

    mean: torch.Tensor

    def rsample(self, k: int = 1) -> torch.Tensor:
        """The mean, K times: (k b d), a view of it (no copy)."""
        return self.mean.expand(k, -1, -1)


@dataclass
class StandardNormalDistribution:
    """N(0, I) in d dimensions."""

    dim: int

    def sample(self, n: int, *, device=None, dtype=None) -> torch.Tensor:
        """n samples, shape (n d)."""
        return batch_draw(lambda shape: torch.randn(shape, device=device, dtype=dtype), n, self.dim)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z), summed over d: (... d) → (...)."""
        return -0.5 * (LOG_2PI + z**2).sum(-1)
