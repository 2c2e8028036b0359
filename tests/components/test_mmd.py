"""MMD² with the IMQ and RBF kernels against direct double sums, its behaviour on equal and
shifted distributions, the term on the composed WAE and InfoVAE, and the InfoVAE weights."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import gaespec
from gaespec.components.distributions import StandardNormalDistribution
from gaespec.components.mmd import IMQKernel, RBFKernel, mmd_u_statistic
from gaespec.errors import SpecError
from gaespec.graph.lower import lower
from gaespec.spec.declarations.mmd import IMQ_SCALES
from gaespec.spec.toml_writer import spec_toml

SPECS = Path(__file__).resolve().parents[2] / "specs" / "models"


# -- the direct computation: plain Python floats and loops --------------------------------------


def _imq(a: list[float], b: list[float], bandwidth: float, scales) -> float:
    c = 2 * len(a) * bandwidth**2
    distance = sum((u - v) ** 2 for u, v in zip(a, b, strict=True))
    return sum(s * c / (s * c + distance) for s in scales)


def _rbf(a: list[float], b: list[float], bandwidth: float) -> float:
    c = 2 * len(a) * bandwidth**2
    return math.exp(-sum((u - v) ** 2 for u, v in zip(a, b, strict=True)) / c)


def _mmd_by_hand(a: list[list[float]], b: list[list[float]], k) -> float:
    """Σ_{i≠j} k(a_i, a_j)/(n(n−1)) + Σ_{i≠j} k(b_i, b_j)/(m(m−1)) − 2·Σ_{i,j} k(a_i, b_j)/(nm)."""
    n, m = len(a), len(b)
    within_a = sum(k(a[i], a[j]) for i in range(n) for j in range(n) if i != j)
    within_b = sum(k(b[i], b[j]) for i in range(m) for j in range(m) if i != j)
    cross = sum(k(a[i], b[j]) for i in range(n) for j in range(m))
    return within_a / (n * (n - 1)) + within_b / (m * (m - 1)) - 2 * cross / (n * m)


KERNELS = {
    "imq": (IMQKernel(0.7, IMQ_SCALES), lambda a, b: _imq(a, b, 0.7, IMQ_SCALES)),
    "rbf": (RBFKernel(0.7), lambda a, b: _rbf(a, b, 0.7)),
}


# -- the estimator -------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
@pytest.mark.parametrize(("n", "m"), [(6, 6), (5, 7)])
def test_mmd_is_the_direct_double_sum(kernel, n, m):
    ours, by_hand = KERNELS[kernel]
    g = torch.Generator().manual_seed(n * m)
    a = torch.randn(n, 3, generator=g, dtype=torch.float64)
    b = torch.randn(m, 3, generator=g, dtype=torch.float64) * 1.5 + 0.3
    value = mmd_u_statistic(a, b, ours)
    assert value.shape == ()
    expected = _mmd_by_hand(a.tolist(), b.tolist(), by_hand)
    assert abs(value.item() - expected) < 1e-12 * max(1.0, abs(expected)), (value, expected)


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_kernel_gram_matrix_is_the_direct_kernel(kernel):
    ours, by_hand = KERNELS[kernel]
    g = torch.Generator().manual_seed(1)
    a = torch.randn(4, 3, generator=g, dtype=torch.float64)
    b = torch.randn(5, 3, generator=g, dtype=torch.float64)
    gram = ours(a, b)
    assert gram.shape == (4, 5)
    expected = [[by_hand(u, v) for v in b.tolist()] for u in a.tolist()]
    expected = torch.tensor(expected, dtype=torch.float64)
    torch.testing.assert_close(gram, expected, rtol=1e-13, atol=0)


# MMD² of two samples of 400 from N(0, I₃), over 50 seeds: standard deviation 0.0048 (IMQ) and
# 0.0013 (RBF); with the second sample shifted by 1 in every coordinate, at least 0.75 and 0.19
NEAR_ZERO = {"imq": 0.02, "rbf": 0.005}
SHIFTED = {"imq": 0.5, "rbf": 0.15}


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_same_distribution_near_zero_and_shifted_clearly_positive(kernel):
    ours = IMQKernel(1.0, IMQ_SCALES) if kernel == "imq" else RBFKernel(1.0)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(400, 3, generator=g, dtype=torch.float64)
    b = torch.randn(400, 3, generator=g, dtype=torch.float64)
    same, shifted = mmd_u_statistic(a, b, ours).item(), mmd_u_statistic(a, b + 1.0, ours).item()
    assert abs(same) < NEAR_ZERO[kernel], same
    assert shifted > SHIFTED[kernel], shifted


def test_the_estimator_is_unbiased():
    """Averaged over 100 pairs of samples of 10 from one distribution, MMD² is 0 within 4
    standard errors (about 0.02 each); the biased estimator, diagonals kept, is about 0.6 off."""
    kernel = IMQKernel(1.0, IMQ_SCALES)
    g = torch.Generator().manual_seed(2)
    unbiased, biased = [], []
    for _ in range(100):
        a = torch.randn(10, 3, generator=g, dtype=torch.float64)
        b = torch.randn(10, 3, generator=g, dtype=torch.float64)
        unbiased.append(mmd_u_statistic(a, b, kernel))
        biased.append(kernel(a, a).mean() + kernel(b, b).mean() - 2 * kernel(a, b).mean())
    unbiased, biased = torch.stack(unbiased), torch.stack(biased)
    standard_error = unbiased.std() / math.sqrt(len(unbiased))
    assert standard_error < 0.03
    assert abs(unbiased.mean()) < 4 * standard_error, (unbiased.mean(), standard_error)
    assert biased.mean() > 10 * standard_error  # the test tells the two estimators apart


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_gradient_matches_finite_differences(kernel):
    ours, _ = KERNELS[kernel]
    g = torch.Generator().manual_seed(3)
    a = torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: mmd_u_statistic(a, b, ours), (a, b))


def test_one_sample_is_refused():
    a = torch.zeros(1, 3)
    with pytest.raises(ValueError) as err:
        mmd_u_statistic(a, torch.zeros(4, 3), RBFKernel(1.0))
    assert str(err.value) == "the unbiased MMD² needs at least 2 samples on each side, got 1, 4"


# -- the term in the composed models -------------------------------------------------------------


class FixedDraw(StandardNormalDistribution):
    """N(0, I) whose `sample(n)` returns given samples, and records the n it was asked for."""

    def __init__(self, samples: torch.Tensor):
        super().__init__(samples.shape[-1])
        self.samples = samples
        self.asked: list[int] = []

    def sample(self, n, *, device=None, dtype=None):
        self.asked.append(n)
        return self.samples[:n].to(device=device, dtype=dtype)


@pytest.mark.parametrize(
    ("name", "samples", "by_hand"),
    [
        ("wae_imq", 1, lambda a, b: _imq(a, b, 1.0, IMQ_SCALES)),
        ("wae_rbf", 1, lambda a, b: _rbf(a, b, 1.0)),
        ("info_vae_imq", 2, lambda a, b: _imq(a, b, 1.0, IMQ_SCALES)),
        ("info_vae_rbf", 3, lambda a, b: _rbf(a, b, 1.0)),
    ],
)
def test_term_on_the_model_is_the_direct_mmd_of_codes_and_prior_draws(
    tiny_model, monkeypatch, name, samples, by_hand
):
    torch.manual_seed(0)
    model = tiny_model(name, f"latent.samples={samples}").double()
    b = 5
    draws = FixedDraw(torch.randn(samples * b, 4, dtype=torch.float64) * 0.8 + 0.2)
    monkeypatch.setattr(model.prior, "forward", lambda: draws)
    out = model(torch.rand(b, 1, 6, 6, dtype=torch.float64))
    z = out.tensors["z"]
    assert z.shape == (samples, b, 4)
    assert draws.asked == [samples * b]  # as many prior samples as codes
    codes = z.reshape(samples * b, 4).tolist()  # every sample of every input
    expected = _mmd_by_hand(codes, draws.samples.tolist(), by_hand)
    assert abs(out.terms["mmd"].item() - expected) < 1e-12, (out.terms["mmd"], expected)


def test_term_draws_its_prior_samples_from_the_torch_generator(tiny_model):
    """Without a patch: the prior samples are the next standard-normal draw after the codes'."""
    torch.manual_seed(0)
    model = tiny_model("wae_imq").double()
    x = torch.rand(6, 1, 6, 6, dtype=torch.float64)
    torch.manual_seed(11)
    out = model(x)
    torch.manual_seed(11)
    z_prior = torch.randn(6, 4, dtype=torch.float64)  # WAE's code is deterministic: no draw before
    codes = out.tensors["z"].reshape(6, 4).tolist()
    expected = _mmd_by_hand(codes, z_prior.tolist(), lambda a, b: _imq(a, b, 1.0, IMQ_SCALES))
    assert abs(out.terms["mmd"].item() - expected) < 1e-12


# -- the specs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["info_vae_imq", "info_vae_rbf"])
def test_info_vae_default_mmd_weight_is_not_negative(name, tiny_model):
    spec = gaespec.load_spec(SPECS / f"{name}.toml")
    alpha, lambda_ = spec.params["alpha"], spec.params["lambda_"]
    assert (alpha, lambda_) == (0.0, 1000.0)
    assert alpha + lambda_ - 1 >= 0
    # and the loss is recon + (1 − α)·kl + (α + λ − 1)·mmd with these weights
    torch.manual_seed(0)
    model = tiny_model(name).double()
    out = model(torch.rand(4, 1, 6, 6, dtype=torch.float64))
    t = out.terms
    expected = t["recon"] + (1 - alpha) * t["kl"] + (alpha + lambda_ - 1) * t["mmd"]
    torch.testing.assert_close(out.losses["loss"], expected, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize(
    ("name", "kernel", "scales"),
    [
        ("wae_imq", "imq", IMQ_SCALES),
        ("wae_rbf", "rbf", None),
        ("info_vae_imq", "imq", IMQ_SCALES),
        ("info_vae_rbf", "rbf", None),
    ],
)
def test_resolved_spec_names_the_kernel_and_loads_again(name, kernel, scales, tmp_path):
    spec = gaespec.load_spec(SPECS / f"{name}.toml")
    mmd = spec.terms["mmd"]
    assert (mmd.kernel, mmd.bandwidth, mmd.scales) == (kernel, 1.0, scales)
    resolved = tmp_path / f"{name}.toml"
    resolved.write_text(spec_toml(spec))
    assert gaespec.load_spec(resolved).terms == spec.terms


def test_scales_with_the_rbf_kernel_are_refused():
    spec = gaespec.load_spec(SPECS / "wae_rbf.toml", ["terms.mmd.scales=[1.0, 2.0]"])
    with pytest.raises(SpecError) as err:
        lower(spec)
    assert err.value.key == "terms.mmd.scales"
    assert str(err.value) == (
        "--set: terms.mmd.scales: the RBF kernel has one scale, C = 2·d·bandwidth²: `scales` is "
        'for the IMQ kernel; fix: remove scales and set bandwidth, or use kernel = "imq"'
    )
