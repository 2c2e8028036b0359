"""Pythae's MNIST ConvNet encoder and decoder (Chadebec et al. 2022, "Pythae", arXiv:2206.08309)."""

from __future__ import annotations

from einops.layers.torch import Rearrange
from torch import Tensor, nn

from gaespec.nets.shapes import MNIST_SHAPE, MNISTConvNet

RULES = MNISTConvNet()


class MNISTConvEncoder(nn.Module):
    """Four Conv(k4 s2 p1) + BN + ReLU blocks, 1×28×28 -> 1024×1×1, flattened to 1024 features."""

    def __init__(self, input_shape: tuple[int, ...] = MNIST_SHAPE):
        super().__init__()
        self.features: int = RULES.encoder_features(input_shape, {})
        blocks: list[nn.Module] = []
        for c_in, c_out in [(1, 128), (128, 256), (256, 512), (512, 1024)]:
            blocks += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.ReLU()]
        self.layers = nn.Sequential(*blocks, Rearrange("b c h w -> b (c h w)"))

    def forward(self, x: Tensor) -> Tensor:
        """(B, 1, 28, 28) -> (B, 1024)."""
        return self.layers(x)


class MNISTConvDecoder(nn.Module):
    """Linear to 1024×4×4, then ConvT(k3 s2 p1) 4 -> 7 -> 14 -> 28 with BN + ReLU, and Sigmoid."""

    def __init__(self, latent_dim: int, output_shape: tuple[int, ...] = MNIST_SHAPE):
        super().__init__()
        # The net can only make 1×28×28; asking for another shape is a mistake, not a resize.
        if tuple(output_shape) != RULES.decoder_output(latent_dim, output_shape, {}):
            raise ValueError(
                f"mnist_convnet decoder produces only {MNIST_SHAPE}, "
                f"asked for {tuple(output_shape)}"
            )
        self.output_shape = MNIST_SHAPE
        self.layers = nn.Sequential(
            nn.Linear(latent_dim, 1024 * 4 * 4),
            Rearrange("b (c h w) -> b c h w", c=1024, h=4, w=4),
            nn.ConvTranspose2d(1024, 512, 3, 2, 1),
            nn.BatchNorm2d(512),
            nn.ReLU(),
            nn.ConvTranspose2d(512, 256, 3, 2, 1, output_padding=1),
            nn.BatchNorm2d(256),
            nn.ReLU(),
            nn.ConvTranspose2d(256, 1, 3, 2, 1, output_padding=1),
            nn.Sigmoid(),
        )

    def forward(self, z: Tensor) -> Tensor:
        """(B, latent_dim) -> (B, 1, 28, 28) in [0, 1]."""
        return self.layers(z)
