"""Multi-scale structural similarity (MS-SSIM), Wang, Simoncelli & Bovik 2003 (Asilomar,
doi:10.1109/ACSSC.2003.1292216), and the reconstruction term 1 − MS-SSIM of the MS-SSIM VAE
(Snell et al. 2017, arXiv:1511.06409), per image."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange, reduce, repeat

from gaespec.components.registry import implements


def msssim_scales(sides: tuple[int, ...], window_size: int, most: int) -> int:
    """How many scales fit: the finest first, each pooled by 2 (rounded down) from the one
    before, while the smallest side is at least the window, and at most `most`."""
    side, scales = min(sides), 0
    while scales < most and side >= window_size:
        scales, side = scales + 1, side // 2
    return scales


def _msssim_window(size: int, sigma: float, like: torch.Tensor) -> torch.Tensor:
    """The normalised 1-D Gaussian window (size,), centred on its middle tap."""
    offsets = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    window = torch.exp(-(offsets**2) / (2 * sigma**2))
    return window / window.sum()


def _msssim_blur(images: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Gaussian-weighted local means of images (n c ...), each channel alone, where the whole
    window fits (no padding: Wang et al.'s 'valid' filtering), one spatial axis at a time."""
    channels, spatial = images.shape[1], images.ndim - 2
    convolve = F.conv2d if spatial == 2 else F.conv3d
    for axis in range(spatial):
        # the separable window along one axis, (c 1 w 1) or (c 1 1 w), ...
        shape = [1] * spatial
        shape[axis] = window.numel()
        kernel = window.view(1, 1, *shape).expand(channels, 1, *shape)
        images = convolve(images, kernel, groups=channels)
    return images


def _ssim_and_cs(x, y, window, c1: float, c2: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean SSIM and the mean contrast-structure term cs of each channel of image pairs
    (n c ...) → (n c), (n c)."""
    n = x.shape[0]
    means = _msssim_blur(torch.cat([x, y, x * x, y * y, x * y]), window)
    mu_x, mu_y, xx, yy, xy = means.split(n)
    sigma_xx, sigma_yy = xx - mu_x**2, yy - mu_y**2
    sigma_xy = xy - mu_x * mu_y
    cs = (2 * sigma_xy + c2) / (sigma_xx + sigma_yy + c2)
    ssim = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1) * cs
    return reduce(ssim, "n c ... -> n c", "mean"), reduce(cs, "n c ... -> n c", "mean")


def _msssim_power(value: torch.Tensor, weight: float) -> torch.Tensor:
    """max(value, 0) ** weight, with a zero gradient at and below 0."""
    # relu's gradient is a select, not a product: the infinite slope of v^w at v = 0 (w < 1)
    # stops there instead of reaching the images as ∞ or NaN
    return torch.relu(value) ** weight


def multiscale_ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    window_size: int,
    sigma: float,
    k1: float,
    k2: float,
    data_range: float,
    weights: tuple[float, ...],
) -> torch.Tensor:
    """MS-SSIM of each pair of images (n c h w) or volumes (n c d h w) → (n): each channel's
    Π_{j<L} cs_j^{w_j} · SSIM_L^{w_L} over L scales (msssim_scales; the first L weights, rescaled
    to sum as all do), factors clamped at 0, averaged over the channels."""
    if x.shape != y.shape or x.ndim not in (4, 5):
        raise ValueError(
            "MS-SSIM compares two batches of images (n c h w) or volumes (n c d h w) of one "
            f"shape, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    scales = msssim_scales(tuple(x.shape[2:]), window_size, len(weights))
    if scales == 0:
        raise ValueError(
            f"a window of {window_size} does not fit images of {tuple(x.shape[2:])}: MS-SSIM "
            "needs even its finest scale at least as large as the window"
        )
    # fewer scales than weights: the first ones, rescaled to the total of all (exactly the
    # weights themselves when every scale fits)
    rescale = sum(weights) / sum(weights[:scales])
    exponents = [w * rescale for w in weights[:scales]]
    window = _msssim_window(window_size, sigma, x)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    pool = F.avg_pool2d if x.ndim == 4 else F.avg_pool3d
    # (n c): each channel is an image of its own, as MS-SSIM is defined on grey-level images
    similarity = torch.ones(x.shape[:2], dtype=x.dtype, device=x.device)
    for j, exponent in enumerate(exponents):
        ssim, cs = _ssim_and_cs(x, y, window, c1, c2)
        if j == scales - 1:
            similarity = similarity * _msssim_power(ssim, exponent)
        else:
            similarity = similarity * _msssim_power(cs, exponent)
            x, y = pool(x, 2), pool(y, 2)
    return reduce(similarity, "n c -> n", "mean")


def _msssim_arguments(decl, wiring) -> dict:
    return {
        "window_size": decl.window_size,
        "sigma": decl.sigma,
        "k1": decl.k1,
        "k2": decl.k2,
        "data_range": decl.data_range,
        "weights": tuple(decl.weights),
    }


@implements("term", "msssim_reconstruction", _msssim_arguments)
class MSSSIMReconstructionTerm:
    """1 − MS-SSIM(x̂, x) for each image, averaged over the K samples and the batch (Pythae
    takes one MS-SSIM over the whole batch instead)."""

    def __init__(
        self,
        window_size: int,
        sigma: float,
        k1: float,
        k2: float,
        data_range: float,
        weights: tuple[float, ...],
    ):
        self.window_size = window_size
        self.sigma = sigma
        self.k1 = k1
        self.k2 = k2
        self.data_range = data_range
        self.weights = weights

    def per_sample(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        """1 − MS-SSIM per sample and input: x (b ...), x_hat (k b ...) → (k b)."""
        k = x_hat.shape[0]
        target = repeat(x, "b ... -> (k b) ...", k=k)
        estimate = rearrange(x_hat, "k b ... -> (k b) ...")
        similarity = multiscale_ssim(
            estimate,
            target,
            self.window_size,
            self.sigma,
            self.k1,
            self.k2,
            self.data_range,
            self.weights,
        )
        return rearrange(1 - similarity, "(k b) -> k b", k=k)

    def __call__(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        return self.per_sample(x, x_hat).mean()
