"""MS-SSIM (Wang, Simoncelli & Bovik 2003) against pytorch-msssim, and the MS-SSIM VAE's term."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from pytorch_msssim import ms_ssim
from pytorch_msssim.ssim import _ssim

import gaespec
from gaespec.components.msssim import (
    MSSSIMReconstructionTerm,
    _msssim_power,
    msssim_scales,
    multiscale_ssim,
)
from gaespec.errors import GraphError, SpecError

WANG = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
SETTINGS = {"sigma": 1.5, "k1": 0.01, "k2": 0.03, "data_range": 1.0, "weights": WANG}


def _ours(x, y, window_size):
    return multiscale_ssim(x, y, window_size, **SETTINGS)


def _random(n, shape, seed):
    """Pairs of images: uniform noise, and a noisy copy of it (similar, not equal)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, *shape, generator=g, dtype=torch.float64)
    y = (x + 0.3 * torch.randn(n, *shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return x, y


def _structured(n, shape, seed):
    """Pairs of images: smooth waves and a bright disk, and a copy shifted by one pixel, with
    its contrast lowered and a little noise (what a reconstruction gets wrong)."""
    g = torch.Generator().manual_seed(seed)
    c, *spatial = shape
    axes = torch.meshgrid(*(torch.arange(s, dtype=torch.float64) for s in spatial), indexing="ij")
    images = []
    for _ in range(n * c):
        phase, period = torch.rand(2, generator=g, dtype=torch.float64)
        waves = sum(torch.sin(2 * math.pi * (a / (4 + 8 * period) + phase)) for a in axes)
        centre = [s * (0.3 + 0.4 * torch.rand(1, generator=g).item()) for s in spatial]
        radius2 = sum((a - m) ** 2 for a, m in zip(axes, centre, strict=True))
        disk = (radius2 < (min(spatial) / 4) ** 2).double()
        images.append(0.5 + 0.2 * waves / len(axes) + 0.3 * disk)
    x = torch.stack(images).reshape(n, *shape).clamp(0, 1)
    shifted = torch.roll(x, shifts=1, dims=-1)
    noise = 0.05 * torch.randn(x.shape, generator=g, dtype=torch.float64)
    y = (0.5 + 0.8 * (shifted - 0.5) + noise).clamp(0, 1)
    return x, y


def _window(size, channels, spatial):
    """pytorch-msssim's 1-D Gaussian window (σ = 1.5) as its ms_ssim takes it, (c 1 1 … size),
    in float64: its own is made in float32, which alone moves MS-SSIM by about 2e-6."""
    offsets = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(offsets**2) / (2 * 1.5**2))
    return (
        (g / g.sum()).reshape(1, 1, *[1] * (spatial - 1), size).repeat(channels, 1, *[1] * spatial)
    )


def _composed_reference(x, y, window_size, scales, pool=False):
    """MS-SSIM from pytorch-msssim's own single-scale SSIM and cs (its Gaussian filter and
    formulas), pooled by 2 with rounding down and combined here: for the sizes its ms_ssim
    refuses (it always asks for five scales' room). With `pool`, each scale's SSIM and cs are
    averaged over the whole batch before the product, as Pythae does."""
    win = _window(window_size, x.shape[1], x.ndim - 2)
    weights = torch.tensor(WANG[:scales], dtype=x.dtype) * sum(WANG) / sum(WANG[:scales])
    factors = []
    for j in range(scales):
        ssim, cs = _ssim(x, y, data_range=1.0, win=win, K=(0.01, 0.03))  # (n c) each
        if pool:
            ssim, cs = ssim.mean().view(1, 1), cs.mean().view(1, 1)
        factors.append(torch.relu(ssim if j == scales - 1 else cs))
        x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    per_channel = torch.prod(torch.stack(factors) ** weights.view(-1, 1, 1), dim=0)
    return per_channel.mean(1)


# -- the measure ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "window_size"),
    [((1, 28, 28), 3), ((3, 64, 64), 11), ((1, 8, 8), 3), ((2, 12, 20, 20), 3)],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_an_image_is_perfectly_similar_to_itself(shape, window_size, dtype):
    x, _ = _structured(3, shape, seed=0)
    noise, _ = _random(2, shape, seed=1)
    for images in (x.to(dtype), noise.to(dtype), torch.full((2, *shape), 0.3, dtype=dtype)):
        value = _ours(images, images.clone(), window_size)
        torch.testing.assert_close(value, torch.ones_like(value), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("shape", "window_size", "scales"),
    [
        ((1, 48, 48), 3, 5),  # 48, 24, 12, 6, 3
        ((1, 40, 40), 3, 4),  # 40, 20, 10, 5: the first four weights, rescaled
        ((3, 176, 176), 11, 5),  # 176, 88, 44, 22, 11
        ((1, 12, 40, 40), 3, 3),  # a volume: 12, 6, 3 along its smallest side
    ],
)
@pytest.mark.parametrize("images", [_random, _structured])
def test_against_pytorch_msssim(shape, window_size, scales, images):
    """Sizes that halve evenly down to the coarsest scale and that pytorch-msssim's ms_ssim
    accepts (it pads an odd side before pooling, where we round down)."""
    x, y = images(4, shape, seed=2)
    assert msssim_scales(shape[1:], window_size, 5) == scales
    # fewer scales than weights: the first ones, rescaled to sum as all five do
    weights = [w * sum(WANG) / sum(WANG[:scales]) for w in WANG[:scales]]
    win = _window(window_size, shape[0], len(shape) - 1)
    theirs = ms_ssim(x, y, data_range=1.0, size_average=False, win=win, weights=weights)
    ours = _ours(x, y, window_size)
    assert ours.shape == (4,)
    assert 0.05 < ours.min() and ours.max() < 0.999  # neither degenerate nor equal
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)
    # in float32, as the models train
    torch.testing.assert_close(
        _ours(x.float(), y.float(), window_size), theirs.float(), rtol=0, atol=1e-4
    )


@pytest.mark.parametrize(
    ("shape", "window_size", "scales"),
    [
        ((1, 28, 28), 3, 4),  # 28, 14, 7, 3 (7 → 3 rounds down), as Pythae's MNIST runs
        ((3, 64, 64), 11, 3),  # 64, 32, 16
        ((1, 8, 8), 3, 2),  # the 8×8 digits: 8, 4
        ((2, 29, 31), 5, 3),  # odd sides: 29, 14, 7
    ],
)
@pytest.mark.parametrize("images", [_random, _structured])
def test_against_pytorch_msssims_single_scales(shape, window_size, scales, images):
    x, y = images(4, shape, seed=3)
    assert msssim_scales(shape[1:], window_size, 5) == scales
    expected = _composed_reference(x, y, window_size, scales)
    torch.testing.assert_close(_ours(x, y, window_size), expected, rtol=0, atol=1e-12)


def test_the_number_of_scales():
    # each scale's smallest side (halved, rounded down) at least the window; at most `most`
    assert msssim_scales((28, 28), 3, 5) == 4
    assert msssim_scales((28, 28), 11, 5) == 2
    assert msssim_scales((8, 8), 3, 5) == 2
    assert msssim_scales((8, 8), 11, 5) == 0
    assert msssim_scales((7, 7), 7, 5) == 1
    assert msssim_scales((64, 30), 3, 5) == 4  # the smaller side decides: 30, 15, 7, 3
    assert msssim_scales((1024, 1024), 11, 5) == 5
    assert msssim_scales((1024, 1024), 11, 2) == 2


def test_anticorrelated_structure_is_clamped_at_zero_with_a_finite_gradient():
    """cs < 0 at every scale (an image against its negative): MS-SSIM 0, not NaN."""
    x, _ = _random(3, (1, 28, 28), seed=4)
    x_hat = (1 - x).requires_grad_()
    value = _ours(x_hat, x, 3)
    assert torch.equal(value, torch.zeros(3, dtype=torch.float64))
    (grad,) = torch.autograd.grad(value.sum(), [x_hat])
    assert torch.isfinite(grad).all()


def test_the_clamped_power_and_its_gradient():
    """max(v, 0)^w, with w v^(w−1) as its slope above 0 and 0 (not ∞ or NaN) at 0 and below,
    where the slope of v^w itself is infinite."""
    value = torch.tensor([-0.5, 0.0, 1e-3, 0.25, 1.0], dtype=torch.float64, requires_grad=True)
    power = _msssim_power(value, 0.3)
    (grad,) = torch.autograd.grad(power.sum(), [value])
    positive = value.detach().clamp(min=1e-300)
    expected = torch.where(value > 0, positive**0.3, 0.0)
    torch.testing.assert_close(power.detach(), expected, rtol=1e-12, atol=0)
    slope = torch.where(value > 0, 0.3 * positive ** (0.3 - 1), 0.0)
    torch.testing.assert_close(grad, slope, rtol=1e-12, atol=0)


def test_images_of_the_wrong_shape_or_too_small_are_refused():
    x = torch.rand(2, 1, 8, 8)
    with pytest.raises(ValueError) as error:
        _ours(x, x, 11)
    assert str(error.value) == (
        "a window of 11 does not fit images of (8, 8): MS-SSIM needs even its finest scale at "
        "least as large as the window"
    )
    with pytest.raises(ValueError) as error:
        _ours(x.flatten(1), x.flatten(1), 3)
    assert str(error.value) == (
        "MS-SSIM compares two batches of images (n c h w) or volumes (n c d h w) of one shape, "
        "got (2, 64) and (2, 64)"
    )


# -- the term ------------------------------------------------------------------------------------


def _term(window_size=3):
    return MSSSIMReconstructionTerm(window_size=window_size, **SETTINGS)


def test_the_term_is_one_minus_each_images_msssim_averaged():
    """K = 2 reconstructions of b = 3 images, each pair measured alone by pytorch-msssim."""
    x, _ = _structured(3, (1, 48, 48), seed=5)
    win = _window(3, 1, 2)
    # close reconstructions (shifted, lower contrast) and unrelated noise
    close = _structured(3, (1, 48, 48), seed=5)[1]
    noise = torch.rand(3, 1, 48, 48, generator=torch.Generator().manual_seed(6), dtype=x.dtype)
    x_hat = torch.stack([close, noise])
    by_hand = torch.tensor(
        [
            [
                1 - ms_ssim(x_hat[k, i : i + 1], x[i : i + 1], data_range=1.0, win=win).item()
                for i in range(3)
            ]
            for k in range(2)
        ],
        dtype=torch.float64,
    )
    term = _term()
    torch.testing.assert_close(term.per_sample(x, x_hat), by_hand, rtol=0, atol=1e-12)
    torch.testing.assert_close(term(x, x_hat), by_hand.mean(), rtol=0, atol=1e-12)
    # per image: not one MS-SSIM of the whole batch (each scale's SSIM averaged over every
    # image first), which Pythae gives every image
    pooled = _composed_reference(x_hat.flatten(0, 1), x.repeat(2, 1, 1, 1), 3, 5, pool=True)
    assert abs(term(x, x_hat).item() - (1 - pooled.item())) > 1e-3


@pytest.mark.parametrize(
    "pair",
    ["equal", "both constant", "constant estimate", "constant target"],
)
def test_the_gradient_is_finite_where_images_are_equal_or_constant(pair):
    x, _ = _structured(2, (1, 28, 28), seed=7)
    flat = torch.full_like(x, 0.25)
    target, estimate = {
        "equal": (x, x.clone()),
        "both constant": (flat, flat.clone()),
        "constant estimate": (x, flat.clone()),
        "constant target": (flat, x.clone()),
    }[pair]
    estimate = estimate.unsqueeze(0).requires_grad_()
    value = _term()(target, estimate)
    (grad,) = torch.autograd.grad(value, [estimate])
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    if pair in ("equal", "both constant"):
        # the minimum: loss 0, and (to rounding) no slope
        torch.testing.assert_close(value, torch.zeros_like(value), rtol=0, atol=1e-6)
        torch.testing.assert_close(grad, torch.zeros_like(grad), rtol=0, atol=1e-6)


# -- the spec ------------------------------------------------------------------------------------


def test_an_even_window_is_a_spec_error_at_its_key():
    with pytest.raises(SpecError) as error:
        gaespec.load_spec("msssim_vae", ["terms.recon.window_size=4"])
    assert error.value.key == "terms.recon.window_size"
    assert str(error.value) == (
        "--set: terms.recon.window_size: the window must have a centre pixel: give an odd size, "
        "not 4"
    )


def test_a_window_larger_than_the_images_is_refused_when_the_model_is_built():
    spec = gaespec.load_spec(
        "msssim_vae",
        [
            "encoder.arch=mlp",
            "decoder.arch=mlp",
            "input.shape=[1,8,8]",
            "terms.recon.window_size=11",
        ],
    )
    with pytest.raises(GraphError) as error:
        gaespec.build(spec)
    assert error.value.key == "terms.recon.window_size"
    assert str(error.value) == (
        "--set: terms.recon.window_size: a window of 11 does not fit the 8×8 images of "
        "input.shape [1, 8, 8]: MS-SSIM needs even its finest scale at least as large as the "
        "window; fix: set terms.recon.window_size to an odd size of at most 8 (the study used 3 "
        "on MNIST)"
    )


def test_flat_inputs_are_refused():
    spec = gaespec.load_spec(
        "msssim_vae", ["encoder.arch=mlp", "decoder.arch=mlp", "input.shape=[64]"]
    )
    with pytest.raises(GraphError) as error:
        gaespec.build(spec)
    assert error.value.key == "terms.recon.kind"
    assert error.value.message == (
        "MS-SSIM compares images (c h w) or volumes (c d h w), but input.shape is [64]"
    )


def test_the_spec_measures_the_mnist_digits_with_the_studys_window(tiny_model):
    model = tiny_model("msssim_vae")
    term = model.terms["recon"]
    assert isinstance(term, MSSSIMReconstructionTerm)
    assert (term.window_size, term.sigma, term.k1, term.k2, term.data_range) == (
        3,
        1.5,
        0.01,
        0.03,
        1.0,
    )
    assert term.weights == WANG
    x = torch.rand(5, 1, 6, 6)
    torch.manual_seed(0)
    out = model(x)
    torch.testing.assert_close(out.losses["loss"], out.terms["recon"] + 0.01 * out.terms["kl"])
    # the model's recon is 1 − MS-SSIM of its own reconstructions, 6×6 at scales 6 and 3
    x_hat = out.tensors["x_hat"].detach().double()
    expected = 1 - _composed_reference(x_hat[0], x.double(), 3, 2).mean()
    torch.testing.assert_close(out.terms["recon"].double(), expected, rtol=0, atol=1e-5)
