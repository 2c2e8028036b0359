"""Multilayer perceptron encoder and decoder on flattened inputs (the default nets)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from einops.layers.torch import Rearrange
from torch import Tensor, nn

from gaespec.nets.shapes import MLP, MLP_HIDDEN, mlp_hidden

RULES = MLP()


def unflatten(shape: tuple[int, ...]) -> Rearrange:
    """A layer taking (B, prod(shape)) to (B, *shape)."""
    axes = [f"d{i}" for i in range(len(shape))]
    return Rearrange(
        f"b ({' '.join(axes)}) -> b {' '.join(axes)}", **dict(zip(axes, shape, strict=True))
    )


def linear_relu(widths: Sequence[int]) -> list[nn.Module]:
    """Linear + ReLU between each consecutive pair of widths."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return layers


class MLPEncoder(nn.Module):
    """Flatten, then Linear + ReLU per hidden width; features = hidden[-1]."""

    def __init__(self, input_shape: tuple[int, ...], hidden: Sequence[int] = MLP_HIDDEN):
        super().__init__()
        self.features: int = RULES.encoder_features(input_shape, {"hidden": hidden})
        self.input_shape = tuple(input_shape)
        widths = mlp_hidden(hidden)
        self.layers = nn.Sequential(
            Rearrange("b ... -> b (...)"),
            *linear_relu((math.prod(self.input_shape), *widths)),
        )

    def forward(self, x: Tensor) -> Tensor:
        """(B, *input_shape) -> (B, features)."""
        return self.layers(x)


class MLPDecoder(nn.Module):
    """Linear + ReLU per hidden width, Linear to prod(output_shape), then sigmoid/identity."""

    def __init__(
        self,
        latent_dim: int,
        output_shape: tuple[int, ...],
        hidden: Sequence[int] = MLP_HIDDEN,
        output: str = "sigmoid",
    ):
        super().__init__()
        options = {"hidden": hidden, "output": output}
        self.output_shape = RULES.decoder_output(latent_dim, output_shape, options)
        widths = mlp_hidden(hidden)
        last = nn.Sigmoid() if output == "sigmoid" else nn.Identity()
        self.layers = nn.Sequential(
            *linear_relu((latent_dim, *widths)),
            nn.Linear(widths[-1], math.prod(self.output_shape)),
            last,
            unflatten(self.output_shape),
        )

    def forward(self, z: Tensor) -> Tensor:
        """(B, latent_dim) -> (B, *output_shape)."""
        return self.layers(z)
