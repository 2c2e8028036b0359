"""Pythae's MNIST ConvNet encoder and decoder (Chadebec et al. 2022, "Pythae", arXiv:2206.08309).

Self-contained, as gaespec.components are: `gaespec build` copies these classes into the
standalone file. The shapes they accept are checked before they are made
(gaespec.nets.shapes.MNISTConvNet): 1×28×28 only.
"""

from __future__ import annotations

from torch import Tensor, nn


class MNISTConvEncoder(nn.Module):
    """Four Conv(k4 s2 p1) + BatchNorm + ReLU blocks take 1×28×28 to 1024×1×1, flattened."""

    features = 1024

    def __init__(self, input_shape: tuple[int, ...] = (1, 28, 28)):
        super().__init__()
        blocks: list[nn.Module] = []
        for c_in, c_out in [(1, 128), (128, 256), (256, 512), (512, 1024)]:
            blocks += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.ReLU()]
        self.layers = nn.Sequential(*blocks, nn.Flatten(1))  # -> (b (c h w))

    def forward(self, x: Tensor) -> Tensor:
        """(b 1 28 28) -> (b 1024)."""
        return self.layers(x)


class MNISTConvDecoder(nn.Module):
    """Linear to 1024×4×4, then ConvTranspose(k3 s2 p1) 4 -> 7 -> 14 -> 28 with BatchNorm +
    ReLU, and a sigmoid."""

    def __init__(self, latent_dim: int, output_shape: tuple[int, ...] = (1, 28, 28)):
        super().__init__()
        self.output_shape = (1, 28, 28)
        self.layers = nn.Sequential(
            nn.Linear(latent_dim, 1024 * 4 * 4),
            nn.Unflatten(1, (1024, 4, 4)),  # (b (c h w)) -> (b c h w)
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
        """(b latent_dim) -> (b 1 28 28) in [0, 1]."""
        return self.layers(z)
