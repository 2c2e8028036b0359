"""Pythae's benchmark ConvNet and ResNet encoders and decoders for 1×28×28, 3×32×32 and 3×64×64
(Chadebec et al. 2022, "Pythae", arXiv:2206.08309), built from the layer tables of
gaespec.nets.pythae_tables.

Self-contained, as gaespec.components are: `gaespec build` copies these classes, with the tables
they read, into the standalone file. The shapes they accept are checked before they are made
(gaespec.nets.pythae_tables.ConvNet and ResNet). On 1×28×28 the ConvNet is mnist_convnet's, layer
for layer and name for name: one's weights load into the other.
"""

from __future__ import annotations

import math
from typing import ClassVar

from torch import Tensor, nn

from gaespec.nets.mlp import unflatten
from gaespec.nets.pythae_tables import (
    CONVNET_DECODERS,
    CONVNET_ENCODERS,
    RESNET_DECODERS,
    RESNET_ENCODERS,
    trace_shape,
)


class ResBlock(nn.Module):
    """Pythae's residual block: x + Conv1×1(ReLU(Conv3×3(ReLU(x)))), `hidden` channels inside."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, hidden, 3, 1, 1),
            nn.ReLU(),
            nn.Conv2d(hidden, channels, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        """(b c h w) -> (b c h w)."""
        return x + self.block(x)


# a table row's op -> the layer it makes from the row's arguments
PYTHAE_LAYERS = {
    "conv": nn.Conv2d,
    "convT": nn.ConvTranspose2d,
    "bn": nn.BatchNorm2d,
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "res": ResBlock,
}


def pythae_layers(table: tuple) -> list[nn.Module]:
    """The layers of a table's rows, in order."""
    return [PYTHAE_LAYERS[op](*args) for op, *args in table]


class TableEncoder(nn.Module):
    """The rows of `tables[input_shape]`, then flattened: (b c h w) -> (b features)."""

    tables: ClassVar[dict[tuple[int, ...], tuple]] = {}

    def __init__(self, input_shape: tuple[int, ...]):
        super().__init__()
        input_shape = tuple(input_shape)
        table = self.tables[input_shape]
        self.features = math.prod(trace_shape(table, input_shape))
        self.layers = nn.Sequential(*pythae_layers(table), nn.Flatten(1))  # -> (b (c h w))

    def forward(self, x: Tensor) -> Tensor:
        """(b c h w) -> (b features)."""
        return self.layers(x)


class TableDecoder(nn.Module):
    """Linear(latent_dim, c·h·w) to the start shape of `tables[output_shape]`, then its rows."""

    tables: ClassVar[dict[tuple[int, ...], tuple]] = {}

    def __init__(self, latent_dim: int, output_shape: tuple[int, ...]):
        super().__init__()
        self.output_shape = tuple(output_shape)
        start, table = self.tables[self.output_shape]
        self.layers = nn.Sequential(
            nn.Linear(latent_dim, math.prod(start)), unflatten(start), *pythae_layers(table)
        )

    def forward(self, z: Tensor) -> Tensor:
        """(b latent_dim) -> (b c h w) in [0, 1]."""
        return self.layers(z)


class ConvNetEncoder(TableEncoder):
    """Four Conv(k4 s2 p1) + BatchNorm + ReLU blocks, 128 to 1024 channels: 1024·1·1 features
    for 1×28×28, 1024·2·2 for 3×32×32, 1024·4·4 for 3×64×64."""

    tables = CONVNET_ENCODERS


class ConvNetDecoder(TableDecoder):
    """Linear to 1024×4×4 (1×28×28) or 1024×8×8, then ConvTranspose + BatchNorm + ReLU blocks
    and a ConvTranspose with a sigmoid."""

    tables = CONVNET_DECODERS


class ResNetEncoder(TableEncoder):
    """Three or four convolutions without activation between them, then two residual blocks:
    128·4·4 features for 1×28×28 and 3×64×64, 128·8·8 for 3×32×32."""

    tables = RESNET_ENCODERS


class ResNetDecoder(TableDecoder):
    """Linear to 128×4×4 (128×8×8 for 3×32×32), ConvTranspose layers around two residual
    blocks, and a sigmoid (for 3×64×64 a second one half-way, as Pythae's)."""

    tables = RESNET_DECODERS
