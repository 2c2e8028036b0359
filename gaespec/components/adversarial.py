"""The latent critic of the adversarial autoencoder, Makhzani et al. 2016 (arXiv:1511.05644).

A critic D(z) ∈ (0, 1) learns to tell prior samples (label 1) from codes (label 0); the encoder
learns to make its codes pass as prior samples. The critic's own loss sees the codes detached.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gaespec.components.registry import implements


def _critic_arguments(decl, wiring) -> dict:
    return {"dim": wiring.width(decl.input), "hidden": tuple(decl.hidden)}


@implements("module", "mlp_discriminator", _critic_arguments)
class MLPDiscriminator(nn.Module):
    """Linear+ReLU per hidden width, then Linear(→1) and a sigmoid; (n d) → (n)."""

    def __init__(self, dim: int, hidden: tuple[int, ...]):
        super().__init__()
        widths = (dim, *hidden)
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers += [nn.Linear(widths[-1], 1), nn.Sigmoid()]
        self.layers = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z).squeeze(1)  # (n 1) -> (n)


def _flat(z: torch.Tensor) -> torch.Tensor:
    return z.flatten(0, 1)  # (k b d) -> ((k b) d)


@implements("term", "adversarial_generator")
class AdversarialGeneratorTerm:
    """BCE(D(z), 1): small when the critic takes the codes for prior samples."""

    def __call__(self, z: torch.Tensor, critic: nn.Module) -> torch.Tensor:
        judged = critic(_flat(z))
        return F.binary_cross_entropy(judged, torch.ones_like(judged))


@implements("term", "adversarial_critic")
class AdversarialCriticTerm:
    """BCE(D(z_p), 1) + BCE(D(sg(z)), 0) with z_p ~ p(z), one prior sample per code."""

    def __call__(self, z: torch.Tensor, critic: nn.Module, prior: nn.Module) -> torch.Tensor:
        z = _flat(z).detach()
        z_prior = prior().sample(z.shape[0], device=z.device, dtype=z.dtype)
        real, fake = critic(z_prior), critic(z)
        return F.binary_cross_entropy(real, torch.ones_like(real)) + F.binary_cross_entropy(
            fake, torch.zeros_like(fake)
        )
