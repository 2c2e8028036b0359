"""Multilayer perceptron encoder and decoder on flattened inputs (the default nets).

Self-contained, as gaespec.components are: `gaespec build` copies these classes into the
standalone file. Their arguments are checked before they are made (gaespec.nets.shapes.MLP).
"""

from __future__ import annotations

import math

from torch import Tensor, nn


def unflatten(shape: tuple[int, ...]) -> nn.Unflatten:
    """A layer taking (b, prod(shape)) to (b, *shape)."""
    return nn.Unflatten(1, tuple(shape))


def linear_relu(widths: tuple[int, ...]) -> list[nn.Module]:
    """Linear + ReLU between each consecutive pair of widths."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return layers


class MLPEncoder(nn.Module):
    """Flatten, then Linear + ReLU per hidden width; the features are the last width."""

    def __init__(self, input_shape: tuple[int, ...], hidden: tuple[int, ...] = (512,)):
        super().__init__()
        self.features = hidden[-1]
        self.layers = nn.Sequential(
            nn.Flatten(1),  # (b ...) -> (b (...))
            *linear_relu((math.prod(input_shape), *hidden)),
        )

    def forward(self, x: Tensor) -> Tensor:
        """(b ...) -> (b features)."""
        return self.layers(x)


class MLPDecoder(nn.Module):
    """Linear + ReLU per hidden width, Linear to the output's size, then a sigmoid (or the
    identity), unflattened to `output_shape`."""

    def __init__(
        self,
        latent_dim: int,
        output_shape: tuple[int, ...],
        hidden: tuple[int, ...] = (512,),
        output: str = "sigmoid",
    ):
        super().__init__()
        self.output_shape = tuple(output_shape)
        self.layers = nn.Sequential(
            *linear_relu((latent_dim, *hidden)),
            nn.Linear(hidden[-1], math.prod(self.output_shape)),
            nn.Sigmoid() if output == "sigmoid" else nn.Identity(),
            unflatten(self.output_shape),
        )

    def forward(self, z: Tensor) -> Tensor:
        """(b latent_dim) -> (b *output_shape)."""
        return self.layers(z)
