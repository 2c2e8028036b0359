"""Pythae's benchmark nets (Chadebec et al. 2022, "Pythae", arXiv:2206.08309) as layer tables, one
per family and image shape, and the torch-free shape rules of the archs `convnet` and `resnet`.

A table is the program of a net: rows `(op, *arguments)` in order, read by the torch modules of
gaespec.nets.pythae_nets (which copy these tables into a standalone file) and, without torch, by
`trace_shape` for the shape rules. Rows, with the arguments of the torch layer they make:

    ("conv", c_in, c_out, kernel, stride, padding)                    Conv2d
    ("convT", c_in, c_out, kernel, stride, padding, output_padding)   ConvTranspose2d
    ("bn", channels)                                                  BatchNorm2d
    ("relu",), ("sigmoid",)                                           ReLU, Sigmoid
    ("res", channels, hidden)                                         Pythae's residual block

An encoder table maps an image (c h w) to a feature map, flattened into the features the
posterior head reads. A decoder is Linear(latent_dim, c·h·w) to the table's start shape, then its
table. Each table is Pythae's, layer for layer, quirks included (the ResNets' convolutions without
activation between them; the CelebA ResNet decoder's sigmoid half-way): these are the nets whose
numbers the study reports. Pythae's VQ-VAE ResNets (a 1×1 convolution to a d×h×w map quantised at
each position) are not here: in gaespec the posterior head maps the flat features to a flat code,
so their map would be mixed by a dense layer; the VQ models use these nets with a flat code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from gaespec.nets.registry import Arch, ArchRejected, Shape, check_latent_dim, register_arch

MNIST_SHAPE = (1, 28, 28)
CIFAR_SHAPE = (3, 32, 32)
CELEBA_SHAPE = (3, 64, 64)


def conv_size(n: int, kernel: int, stride: int, padding: int) -> int:
    """The side a Conv2d makes of side n."""
    return (n + 2 * padding - kernel) // stride + 1


def conv_t_size(n: int, kernel: int, stride: int, padding: int, output_padding: int) -> int:
    """The side a ConvTranspose2d makes of side n."""
    return (n - 1) * stride - 2 * padding + kernel + output_padding


# the rows that change the shape: (c_in, c_out, side rule's arguments...); the others keep it
SIDES = {"conv": conv_size, "convT": conv_t_size}


def trace_shape(table: tuple, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The (c h w) that the rows of `table` make of an input of shape (c h w)."""
    c, h, w = shape
    for op, *args in table:
        if op in SIDES:
            c, h, w = args[1], SIDES[op](h, *args[2:]), SIDES[op](w, *args[2:])
    return (c, h, w)


def convnet_encoder(channels: int) -> tuple:
    """Pythae's ConvNet encoder, the same for the three shapes: Conv(k4 s2 p1) + BatchNorm +
    ReLU to 128, 256, 512 and 1024 channels (28 → 1, 32 → 2, 64 → 4)."""
    rows: list[tuple] = []
    for c_in, c_out in zip((channels, 128, 256, 512), (128, 256, 512, 1024), strict=True):
        rows += [("conv", c_in, c_out, 4, 2, 1), ("bn", c_out), ("relu",)]
    return tuple(rows)


CONVNET_ENCODERS = {
    MNIST_SHAPE: convnet_encoder(1),
    CIFAR_SHAPE: convnet_encoder(3),
    CELEBA_SHAPE: convnet_encoder(3),
}

# output shape -> (start shape, rows); the side after each resizing layer in its comment
CONVNET_DECODERS = {
    MNIST_SHAPE: (
        (1024, 4, 4),
        (
            ("convT", 1024, 512, 3, 2, 1, 0),  # 7
            ("bn", 512),
            ("relu",),
            ("convT", 512, 256, 3, 2, 1, 1),  # 14
            ("bn", 256),
            ("relu",),
            ("convT", 256, 1, 3, 2, 1, 1),  # 28
            ("sigmoid",),
        ),
    ),
    CIFAR_SHAPE: (
        (1024, 8, 8),
        (
            ("convT", 1024, 512, 4, 2, 1, 0),  # 16
            ("bn", 512),
            ("relu",),
            ("convT", 512, 256, 4, 2, 1, 1),  # 33
            ("bn", 256),
            ("relu",),
            ("convT", 256, 3, 4, 1, 2, 0),  # 32
            ("sigmoid",),
        ),
    ),
    CELEBA_SHAPE: (
        (1024, 8, 8),
        (
            ("convT", 1024, 512, 5, 2, 2, 0),  # 15
            ("bn", 512),
            ("relu",),
            ("convT", 512, 256, 5, 2, 1, 0),  # 31
            ("bn", 256),
            ("relu",),
            ("convT", 256, 128, 5, 2, 2, 1),  # 62
            ("bn", 128),
            ("relu",),
            ("convT", 128, 3, 5, 1, 1, 0),  # 64
            ("sigmoid",),
        ),
    ),
}

RESNET_ENCODERS = {
    MNIST_SHAPE: (
        ("conv", 1, 64, 4, 2, 1),  # 14
        ("conv", 64, 128, 4, 2, 1),  # 7
        ("conv", 128, 128, 3, 2, 1),  # 4
        ("res", 128, 32),
        ("res", 128, 32),
    ),
    CIFAR_SHAPE: (
        ("conv", 3, 64, 4, 2, 1),  # 16
        ("conv", 64, 128, 4, 2, 1),  # 8
        ("conv", 128, 128, 3, 1, 1),  # 8
        ("res", 128, 32),
        ("res", 128, 32),
    ),
    CELEBA_SHAPE: (
        ("conv", 3, 64, 4, 2, 1),  # 32
        ("conv", 64, 128, 4, 2, 1),  # 16
        ("conv", 128, 128, 3, 2, 1),  # 8
        ("conv", 128, 128, 3, 2, 1),  # 4
        ("res", 128, 32),
        ("res", 128, 32),
    ),
}

RESNET_DECODERS = {
    MNIST_SHAPE: (
        (128, 4, 4),
        (
            ("convT", 128, 128, 3, 2, 1, 0),  # 7
            ("res", 128, 32),
            ("res", 128, 32),
            ("relu",),
            ("convT", 128, 64, 3, 2, 1, 1),  # 14
            ("relu",),
            ("convT", 64, 1, 3, 2, 1, 1),  # 28
            ("sigmoid",),
        ),
    ),
    CIFAR_SHAPE: (
        (128, 8, 8),
        (
            ("res", 128, 32),
            ("res", 128, 32),
            ("convT", 128, 64, 4, 2, 1, 0),  # 16
            ("convT", 64, 3, 4, 2, 1, 0),  # 32
            ("sigmoid",),
        ),
    ),
    CELEBA_SHAPE: (
        (128, 4, 4),
        (
            ("convT", 128, 128, 3, 2, 1, 0),  # 7
            ("res", 128, 32),
            ("res", 128, 32),
            ("convT", 128, 128, 5, 2, 1, 0),  # 15
            ("sigmoid",),  # Pythae's sigmoid half-way
            ("convT", 128, 64, 5, 2, 1, 1),  # 32
            ("convT", 64, 3, 4, 2, 1, 0),  # 64
            ("sigmoid",),
        ),
    ),
}


def _listed(items: list[str], last: str) -> str:
    """'a, b and c' (or 'a, b or c')."""
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


class PythaeArch(Arch):
    """A family of Pythae's benchmark nets: the encoder and decoder of each image shape it has a
    table for; other shapes are refused, naming those it takes."""

    encoder_tables: ClassVar[dict[Shape, tuple]]
    decoder_tables: ClassVar[dict[Shape, tuple]]

    def _refuse(self, role: str, what: str, shape: Shape, shapes) -> ArchRejected:
        tuples = _listed([str(tuple(s)) for s in shapes], "and")
        sides = _listed(["×".join(map(str, s)) for s in shapes], "or")
        return ArchRejected(
            f"{self.name} {role} {what} {tuples} (Pythae's MNIST, CIFAR-10 and CelebA nets), "
            f"got {tuple(shape)}",
            fix=f"use arch 'mlp' or data of shape {sides}",
        )

    def encoder_features(self, input_shape: Shape, options: Mapping[str, Any]) -> int:
        """c·h·w of the encoder's last feature map, for the input shapes it has a table for."""
        self.check_options(options, "encoder")
        table = self.encoder_tables.get(tuple(input_shape))
        if table is None:
            raise self._refuse(
                "encoder", "accepts only input shapes", input_shape, self.encoder_tables
            )
        return math.prod(trace_shape(table, tuple(input_shape)))

    def decoder_output(
        self, latent_dim: int, output_shape: Shape, options: Mapping[str, Any]
    ) -> Shape:
        """`output_shape`, if the family has a decoder that makes it."""
        self.check_options(options, "decoder")
        check_latent_dim(latent_dim, self.name)
        if tuple(output_shape) not in self.decoder_tables:
            raise self._refuse(
                "decoder", "makes only output shapes", output_shape, self.decoder_tables
            )
        return tuple(output_shape)


@register_arch
class ConvNet(PythaeArch):
    """Pythae's ConvNet benchmark nets for 1×28×28, 3×32×32 and 3×64×64 (BatchNorm, 1024 wide)."""

    name = "convnet"
    encoder = "gaespec.nets.pythae_nets:ConvNetEncoder"
    decoder = "gaespec.nets.pythae_nets:ConvNetDecoder"
    encoder_tables = CONVNET_ENCODERS
    decoder_tables = CONVNET_DECODERS


@register_arch
class ResNet(PythaeArch):
    """Pythae's ResNet benchmark nets for 1×28×28, 3×32×32 and 3×64×64 (two residual blocks)."""

    name = "resnet"
    encoder = "gaespec.nets.pythae_nets:ResNetEncoder"
    decoder = "gaespec.nets.pythae_nets:ResNetDecoder"
    encoder_tables = RESNET_ENCODERS
    decoder_tables = RESNET_DECODERS
