"""MAF and IAF samplers on a known Gaussian: likelihoods, exact densities, inverses, directions."""

import pytest
import torch
from tiny import StubModel
from torch import nn
from torch.distributions import MultivariateNormal

from gaespec.samplers import make_sampler

MEAN = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
# a full covariance L Lᵀ: every pair of dimensions correlated
SCALE = torch.tensor(
    [[1.5, 0.0, 0.0, 0.0], [0.8, 1.2, 0.0, 0.0], [-0.5, 0.4, 1.0, 0.0], [0.3, -0.6, 0.5, 0.7]],
    dtype=torch.float64,
)
COVARIANCE = SCALE @ SCALE.T
TRUE = MultivariateNormal(MEAN, COVARIANCE)
FAST = {"hidden": [32, 32], "lr": 3e-3, "batch_size": 128}


def _draw(n: int, seed: int) -> torch.Tensor:
    """n points (n 4) of the known Gaussian, float64."""
    g = torch.Generator().manual_seed(seed)
    return MEAN + torch.randn(n, 4, generator=g, dtype=torch.float64) @ SCALE.T


def float64_model() -> StubModel:
    """The stub (codes are the inputs) with one float64 weight: the flow fits in float64."""
    model = StubModel(dim=4)
    model.weight = nn.Parameter(torch.zeros((), dtype=torch.float64))
    return model


@pytest.fixture(scope="module", params=["maf", "iaf"])
def fitted(request):
    """(name, sampler) fitted for a few epochs on 2,000 codes of the known Gaussian, in float32."""
    torch.manual_seed(0)
    s = make_sampler(request.param, epochs=40, patience=10, **FAST)
    return request.param, s.fit(StubModel(dim=4), _draw(2000, seed=0).float())


@pytest.fixture(scope="module", params=["maf", "iaf"])
def exact(request):
    """(name, sampler) fitted for two epochs in float64: a flow far from the identity."""
    s = make_sampler(request.param, epochs=2, validation=0, **FAST)
    return request.param, s.fit(float64_model(), _draw(500, seed=1))


def test_log_likelihoods_of_held_out_points_are_close_to_the_true_ones(fitted):
    name, s = fitted
    held_out = _draw(1000, seed=2)
    estimated = s.log_prob(held_out.float()).double()
    true = TRUE.log_prob(held_out)
    # the mean gap estimates −KL(p ‖ p̂) (a Gaussian's own 14 parameters fitted on 1,800 points
    # would leave ≈ 0.004); we saw −0.029 for both, and 0.14 (maf) and 0.15 (iaf) point by point
    assert abs((estimated - true).mean()) < 0.06
    assert (estimated - true).abs().mean() < 0.25
    assert s.report["best_epoch"] >= 1 and s.report["held_out_codes"] == 200


def test_samples_have_the_gaussian_mean_and_covariance(fitted):
    name, s = fitted
    z = s.codes(20_000, torch.Generator().manual_seed(3)).double()
    # 20,000 draws: standard errors ≤ 0.02 (means) and 0.04 (covariances); the fit's error
    # dominates: we saw 0.05 and 0.09 (maf), 0.10 and 0.12 (iaf) at most
    torch.testing.assert_close(z.mean(0), MEAN, rtol=0, atol=0.15)
    torch.testing.assert_close(torch.cov(z.T), COVARIANCE, rtol=0, atol=0.25)


def test_log_prob_is_the_change_of_variables_of_the_map_to_the_base(exact):
    name, s = exact
    z = _draw(5, seed=4)

    def to_base(point: torch.Tensor) -> torch.Tensor:  # (d) → (d), standardisation included
        u, _ = s.to_base(((point - s.shift) / s.scale)[None])
        return u[0]

    jacobians = torch.stack([torch.autograd.functional.jacobian(to_base, point) for point in z])
    u = torch.stack([to_base(point) for point in z])
    expected = (
        torch.distributions.Normal(0.0, 1.0).log_prob(u).sum(-1)
        + torch.linalg.slogdet(jacobians).logabsdet
    )
    torch.testing.assert_close(s.log_prob(z), expected, rtol=0, atol=1e-10)
    # the flow is far from the identity: its log-determinant is not a constant
    assert torch.linalg.slogdet(jacobians).logabsdet.std() > 0.01


def test_sampling_inverts_the_density_pass(exact):
    name, s = exact
    y = (_draw(50, seed=5) - s.shift) / s.scale
    u, _ = s.to_base(y)
    torch.testing.assert_close(s.from_base(u), y, rtol=0, atol=1e-10)
    v = torch.randn(50, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(s.to_base(s.from_base(v))[0], v, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    ("name", "density_passes", "sampling_passes"), [("maf", 1, 4), ("iaf", 4, 1)]
)
def test_maf_has_the_one_pass_density_and_iaf_the_one_pass_sampling(
    name, density_passes, sampling_passes
):
    s = make_sampler(name, epochs=1, validation=0, blocks=2, **FAST)
    s.fit(float64_model(), _draw(100, seed=7))
    calls = []
    for step in s.flow.steps:
        step.made.register_forward_hook(lambda *_: calls.append(1))
    s.log_prob(_draw(3, seed=8))
    assert len(calls) == 2 * density_passes  # per layer: one pass, or one per dimension (d = 4)
    calls.clear()
    s.codes(3, torch.Generator().manual_seed(0))
    assert len(calls) == 2 * sampling_passes


@pytest.mark.parametrize("name", ["maf", "iaf"])
def test_a_seed_fixes_the_fit_and_the_global_rng_is_untouched(name):
    codes = _draw(200, seed=9).float()
    state = torch.random.get_rng_state()
    a = make_sampler(name, epochs=2, seed=5, **FAST).fit(StubModel(dim=4), codes).state()
    assert torch.equal(torch.random.get_rng_state(), state)
    b = make_sampler(name, epochs=2, seed=5, **FAST).fit(StubModel(dim=4), codes).state()
    c = make_sampler(name, epochs=2, seed=6, **FAST).fit(StubModel(dim=4), codes).state()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(
        a["flow.steps.0.made.output.weight"], c["flow.steps.0.made.output.weight"]
    )


def test_standardisation_is_the_codes_mean_and_deviation_and_can_be_left_out():
    codes = _draw(300, seed=10)
    s = make_sampler("maf", epochs=1, **FAST).fit(float64_model(), codes)
    torch.testing.assert_close(s.shift, codes.mean(0), rtol=0, atol=1e-12)
    torch.testing.assert_close(s.scale, codes.std(0, correction=0), rtol=0, atol=1e-12)
    plain = make_sampler("maf", epochs=1, standardize=False, **FAST).fit(float64_model(), codes)
    assert torch.equal(plain.shift, torch.zeros(4, dtype=torch.float64))
    assert torch.equal(plain.scale, torch.ones(4, dtype=torch.float64))


def test_the_defaults_are_two_blocks_of_two_hidden_layers_of_128():
    s = make_sampler("maf")
    assert (s.blocks, s.hidden) == (2, (128, 128))
    assert (s.epochs, s.lr, s.batch_size) == (100, 1e-4, 64)  # Pythae's sampler training
    assert (s.validation, s.patience, s.embedding, s.device) == (0.1, 10, "mean", None)
