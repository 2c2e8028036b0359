"""The VAE/GAN of Larsen et al. 2016 (arXiv:1512.09300): an image discriminator whose inner
features measure reconstructions, and the GAN's binary cross-entropy."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gaespec.components.registry import implements

# the activations a discriminator's convolutions may take
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "leaky_relu": lambda: nn.LeakyReLU(0.2)}


def _discriminator_arguments(decl, wiring) -> dict:
    return {
        "input_shape": wiring.input_shape,
        "channels": tuple(decl.channels),
        "activations": tuple(decl.activations),
        "feature_layer": decl.feature_layer,
        "batch_norm": decl.batch_norm,
    }


@implements("module", "conv_discriminator", _discriminator_arguments)
class ConvDiscriminator(nn.Module):
    """Conv(4×4, stride 2, padding 1) [+ BatchNorm] + activation per width, then Linear(→1) and
    a sigmoid: x (n c h w) → (D(x) (n), the output of layer `feature_layer`)."""

    def __init__(
        self,
        input_shape: tuple,
        channels: tuple[int, ...],
        activations: tuple[str, ...],
        feature_layer: int,
        batch_norm: bool = False,
    ):
        super().__init__()
        c, h, w = input_shape
        layers: list[nn.Module] = []
        for width, activation in zip(channels, activations, strict=True):
            norm = [nn.BatchNorm2d(width)] if batch_norm else []
            layers.append(
                nn.Sequential(nn.Conv2d(c, width, 4, 2, 1), *norm, ACTIVATIONS[activation]())
            )
            c, h, w = width, (h + 2 - 4) // 2 + 1, (w + 2 - 4) // 2 + 1
        self.convolutions = nn.ModuleList(layers)
        self.linear = nn.Linear(c * h * w, 1)
        self.feature_layer = feature_layer

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = None
        for i, layer in enumerate(self.convolutions, start=1):
            x = layer(x)
            if i == self.feature_layer:
                features = x
        logit = self.linear(x.flatten(1))  # (n c h w) -> (n (c h w))
        if features is None:  # the linear layer's output is the feature asked for
            features = logit
        return torch.sigmoid(logit).squeeze(1), features  # (n 1) -> (n)


def _gan_arguments(decl, wiring) -> dict:
    return {"real": len(decl.real)}


@implements("term", "gan_loss", _gan_arguments)
class GANLossTerm:
    """Σ BCE(D, 1) over the first `real` tensors of judgements plus Σ BCE(D, 0) over the rest;
    each judgement (any shape: k b or b) is averaged."""

    def __init__(self, real: int):
        self.real = real

    def __call__(self, *judged: torch.Tensor) -> torch.Tensor:
        losses = [
            F.binary_cross_entropy(d, torch.full_like(d, 1.0 if i < self.real else 0.0))
            for i, d in enumerate(judged)
        ]
        return sum(losses[1:], losses[0])
