"""Small, fast versions of the built-in specs, for tests: MLP nets on 8×8 digits."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

import gaespec
from gaespec.components.distributions import StandardNormalDistribution
from gaespec.spec.load import builtin_specs

MODELS = tuple(sorted(builtin_specs()))

# small MLP nets on 1×8×8 inputs: a training step costs milliseconds
TINY = (
    "input.shape=[1,8,8]",
    "encoder.arch=mlp",
    "decoder.arch=mlp",
    "encoder.hidden=[64]",
    "decoder.hidden=[64]",
    "latent.dim=4",
    "train.batch_size=32",
)


# what some specs need beside TINY to fit 1×8×8 digits and stay fast
FITTING = {
    "vqvae": ("modules.codebook.groups=2",),  # 8 parts of the 16-d code: 2 of the 4-d one
    "vqvae_ema": ("modules.codebook.groups=2",),
    "factor_vae": ("modules.critic.hidden=[64, 64]",),  # the paper's 5 × 1000 is slow here
    "vaegan": (
        "modules.discriminator.channels=[16, 16, 16]",
        "modules.discriminator.activations=['relu', 'tanh', 'relu']",
        # layer 3 of these is 1×1: the features of layer 1 (4×4) still carry the image
        "modules.discriminator.feature_layer=1",
    ),
}


def tiny_spec(name: str, *extra: str):
    """The built-in spec `name` with small MLP nets for 1×8×8 digits, plus `extra` overrides."""
    return gaespec.load_spec(name, [*TINY, *FITTING.get(name, ()), *extra])


def tiny_vae():
    """A VAE with one-layer MLPs of 32 and a 4-d latent space, on 1×28×28 images."""
    spec = gaespec.load_spec(
        "specs/models/vae.toml",
        overrides=[
            "encoder.arch='mlp'",
            "decoder.arch='mlp'",
            "encoder.hidden=[32]",
            "decoder.hidden=[32]",
            "latent.dim=4",
        ],
    )
    return gaespec.build(spec)


@dataclass
class StubPosterior:
    """A posterior whose samples differ from its mean, so using rsample would show."""

    mean: torch.Tensor

    def rsample(self, k: int = 1) -> torch.Tensor:
        return self.mean + 1000.0


class StubModel(nn.Module):
    """encode(x).mean = x (the codes are the inputs); decode(z) = z; prior N(0, I) in `dim`."""

    def __init__(self, dim: int = 2):
        super().__init__()
        self.dim = dim
        self.calls: list[tuple[int, bool, bool]] = []  # (batch size, training, grad enabled)

    def encode(self, x: torch.Tensor) -> StubPosterior:
        self.calls.append((len(x), self.training, torch.is_grad_enabled()))
        return StubPosterior(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z

    def prior(self) -> StandardNormalDistribution:
        return StandardNormalDistribution(self.dim)
