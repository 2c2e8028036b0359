"""Declarations of the VAE/GAN of Larsen et al. 2016 (arXiv:1512.09300): an image discriminator
whose inner features measure reconstructions, and the GAN's binary cross-entropy."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from gaespec.spec.vocabulary import Declaration, Read, TensorName, declare


@declare("module")
class ConvDiscriminator(Declaration):
    """An image discriminator D(x) ∈ (0, 1): 4×4 convolutions of stride 2, then Linear(→1) and a
    sigmoid; a call writes D(x) and, as `<call>.features`, the output of layer `feature_layer`.

    Pythae's MNIST and CIFAR-10 discriminators: channels 128, 256, 512, 1024 with ReLU, tanh,
    ReLU, ReLU (the defaults); its CelebA one adds batch normalisation (`batch_norm = true`).

    Attributes:
        channels: the output channels of each convolution.
        activations: one per convolution: "relu", "tanh" or "leaky_relu" (slope 0.2).
        batch_norm: BatchNorm2d between each convolution and its activation.
        feature_layer: the layer (1-based; the last is the linear one) whose output the calls
            also write, for a reconstruction measured in the discriminator's features.
    """

    kind: Literal["conv_discriminator"] = "conv_discriminator"
    channels: tuple[int, ...] = (128, 256, 512, 1024)
    activations: tuple[Literal["relu", "tanh", "leaky_relu"], ...] = (
        "relu",
        "tanh",
        "relu",
        "relu",
    )
    feature_layer: int = Field(3, gt=0)
    batch_norm: bool = False
    summary: ClassVar[str] = "image discriminator D(x): stride-2 convolutions, inner features"
    provides: ClassVar[str] = "critic"

    @model_validator(mode="after")
    def _fits(self) -> ConvDiscriminator:
        if len(self.activations) != len(self.channels):
            raise ValueError(
                f"activations needs one entry per convolution ({len(self.channels)}), "
                f"got {len(self.activations)}"
            )
        if not self.channels or min(self.channels) <= 0:
            raise ValueError("channels must be positive widths, at least one")
        if self.feature_layer > len(self.channels) + 1:
            raise ValueError(
                f"feature_layer must be at most {len(self.channels) + 1} (the convolutions, "
                f"then the linear layer), got {self.feature_layer}"
            )
        return self

    def call_parts(self, name: str) -> tuple[str, ...]:
        return ("features",)

    def check(self, spec, key):
        if len(spec.input.shape) != 3:
            raise spec.error(
                f"an image discriminator needs images (c h w), but input.shape is "
                f"{list(spec.input.shape)}",
                f"{key}.kind",
            )
        side = min(spec.input.shape[1:])
        for _ in self.channels:
            side = (side + 2 - 4) // 2 + 1
        if side < 1:
            raise spec.error(
                f"{len(self.channels)} stride-2 convolutions shrink the input "
                f"{list(spec.input.shape)} to nothing",
                f"{key}.channels",
                fix="use fewer channels entries (each halves the image)",
            )


@declare("term")
class GANLoss(Declaration):
    """Σ_real BCE(D, 1) + Σ_fake BCE(D, 0) over the discriminator's outputs on real and fake
    inputs, each a batch mean: the GAN's loss, which the discriminator minimises.

    Attributes:
        real: the tensors of D's outputs on data. fake: those on generated images.
    """

    kind: Literal["gan_loss"] = "gan_loss"
    real: tuple[TensorName, ...] = ()
    fake: tuple[TensorName, ...] = ()
    summary: ClassVar[str] = "GAN loss Σ BCE(D(real), 1) + Σ BCE(D(fake), 0), batch means"

    @model_validator(mode="after")
    def _some(self) -> GANLoss:
        if not self.real and not self.fake:
            raise ValueError("give the discriminator's outputs: real = [...], fake = [...]")
        return self

    def reads(self, modules):
        return (*(Read(n, "real") for n in self.real), *(Read(n, "fake") for n in self.fake))
