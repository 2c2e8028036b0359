"""Torch-free shape rules of built-in nets: MLP, Pythae's MNIST ConvNet (Chadebec et al. 2022)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gaespec.nets.registry import (
    Arch,
    ArchRejected,
    Shape,
    check_latent_dim,
    check_shape,
    register_arch,
)

MLP_HIDDEN = (512,)
MLP_OUTPUTS = ("sigmoid", "identity")
MNIST_SHAPE = (1, 28, 28)


def mlp_hidden(hidden: Sequence[int]) -> tuple[int, ...]:
    """The hidden widths as a non-empty tuple of positive ints, or ArchRejected."""
    if isinstance(hidden, str | bytes):
        raise ArchRejected(f"mlp hidden must be a list of positive integers, got {hidden!r}")
    widths = check_shape(hidden, "mlp hidden")
    if not widths:
        raise ArchRejected("mlp hidden must list at least one width, got []")
    return widths


def mlp_output(output: str) -> str:
    """The output activation name if the MLP decoder knows it, else ArchRejected."""
    if output not in MLP_OUTPUTS:
        raise ArchRejected(
            f"mlp decoder output must be one of 'sigmoid', 'identity', got {output!r}",
            name=str(output),
            choices=MLP_OUTPUTS,
        )
    return output


@register_arch
class MLP(Arch):
    """Fully connected nets on flattened inputs; accept any input and output shape."""

    name = "mlp"
    encoder = "gaespec.nets.mlp:MLPEncoder"
    decoder = "gaespec.nets.mlp:MLPDecoder"
    encoder_options = frozenset({"hidden"})
    decoder_options = frozenset({"hidden", "output"})

    def encoder_features(self, input_shape: Shape, options: Mapping[str, Any]) -> int:
        """The last hidden width."""
        self.check_options(options, "encoder")
        check_shape(input_shape, "mlp encoder input shape")
        return mlp_hidden(options.get("hidden", MLP_HIDDEN))[-1]

    def decoder_output(
        self, latent_dim: int, output_shape: Shape, options: Mapping[str, Any]
    ) -> Shape:
        """Exactly `output_shape`."""
        self.check_options(options, "decoder")
        check_latent_dim(latent_dim, self.name)
        mlp_hidden(options.get("hidden", MLP_HIDDEN))
        mlp_output(options.get("output", "sigmoid"))
        return check_shape(output_shape, "mlp decoder output shape")


@register_arch
class MNISTConvNet(Arch):
    """Pythae's MNIST ConvNet benchmark pair; input and output are fixed at 1×28×28."""

    name = "mnist_convnet"
    encoder = "gaespec.nets.mnist_convnet:MNISTConvEncoder"
    decoder = "gaespec.nets.mnist_convnet:MNISTConvDecoder"

    def encoder_features(self, input_shape: Shape, options: Mapping[str, Any]) -> int:
        """1024, for input (1, 28, 28) only."""
        self.check_options(options, "encoder")
        if tuple(input_shape) != MNIST_SHAPE:
            raise ArchRejected(
                f"mnist_convnet encoder accepts only input shape {MNIST_SHAPE}, "
                f"got {tuple(input_shape)}",
                fix="use arch 'mlp' or data of shape 1×28×28",
            )
        return 1024

    def decoder_output(
        self, latent_dim: int, output_shape: Shape, options: Mapping[str, Any]
    ) -> Shape:
        """(1, 28, 28), whatever shape was asked for."""
        self.check_options(options, "decoder")
        check_latent_dim(latent_dim, self.name)
        return MNIST_SHAPE
