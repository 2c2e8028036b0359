"""Total correlation: β-TC-VAE's three MWS terms and FactorVAE's critic, against direct sums,
closed forms and autograd."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.distributions import MultivariateNormal, Normal

import gaespec
from gaespec.components import total_correlation
from gaespec.components.distributions import DiagGaussian, StandardNormalDistribution
from gaespec.components.divergences import MonteCarloKLTerm, kl_diag_gaussian_standard_normal
from gaespec.components.total_correlation import (
    DensityRatioCritic,
    DensityRatioTCTerm,
    DimensionWiseKLTerm,
    IndexCodeMITerm,
    PermutedCodeCETerm,
    TotalCorrelationTerm,
    minibatch_weighted_sampling,
    permute_dims,
)
from gaespec.errors import SpecError

TERMS = (IndexCodeMITerm(), TotalCorrelationTerm(), DimensionWiseKLTerm())


def _posterior(b: int, d: int, seed: int = 0, spread: float = 1.0) -> DiagGaussian:
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(b, d, generator=g, dtype=torch.float64) * spread
    log_var = torch.rand(b, d, generator=g, dtype=torch.float64) * 2 - 1
    return DiagGaussian(mean, log_var)


def _codes(q: DiagGaussian, k: int, seed: int = 1) -> torch.Tensor:
    torch.manual_seed(seed)
    return q.rsample(k)


def _prior(d: int):
    return lambda: StandardNormalDistribution(d)


def _three(q, z, n):
    mi, tc, dim_kl = TERMS
    d = z.shape[-1]
    return mi(q, z, n), tc(q, z, n), dim_kl(q, z, n, _prior(d))


# β-TC-VAE


@pytest.mark.parametrize("dataset_size", [None, 60_000])
def test_the_three_terms_telescope_to_the_monte_carlo_kl(dataset_size):
    """Per code, (log q(z|x) − log q(z)) + (log q(z) − Σ log q(z_d)) + (Σ log q(z_d) − log p(z))
    is log q(z|x) − log p(z): the estimator of q(z) cancels, whatever N."""
    q = _posterior(b=16, d=5)
    z = _codes(q, k=3)
    log_qz_x, log_qz, log_qz_marginals = minibatch_weighted_sampling(q, z, dataset_size)
    log_pz = StandardNormalDistribution(5).log_prob(z)
    per_code = (log_qz_x - log_qz) + (log_qz - log_qz_marginals) + (log_qz_marginals - log_pz)
    assert per_code.shape == (3, 16)
    torch.testing.assert_close(per_code, q.log_prob(z) - log_pz, rtol=0, atol=1e-12)
    total = sum(_three(q, z, dataset_size))
    torch.testing.assert_close(total, MonteCarloKLTerm()(q, z, _prior(5)), rtol=0, atol=1e-12)


def test_the_three_terms_sum_to_the_analytic_kl_in_expectation():
    """20,000 codes (100 inputs × 200 samples): the sum is within 4 standard errors of the
    batch mean of the analytic KL."""
    q = _posterior(b=100, d=3, seed=2)
    z = _codes(q, k=200, seed=3)
    total = sum(_three(q, z, 5_000))
    per_code = q.log_prob(z) - StandardNormalDistribution(3).log_prob(z)
    standard_error = per_code.std() / math.sqrt(per_code.numel())
    analytic = kl_diag_gaussian_standard_normal(q, StandardNormalDistribution(3)).mean()
    assert abs(total - analytic) < 4 * standard_error, (total, analytic, standard_error)


@pytest.mark.parametrize("dataset_size", [None, 1_000])
def test_mws_densities_against_a_direct_double_loop(dataset_size):
    """log q(z_i) = log Σ_j Π_d N(z_id; μ_jd, σ_jd) − log(N·M) and log q(z_id) likewise, one
    code and one posterior at a time with torch.distributions.Normal."""
    k, m, d = 2, 3, 2
    q = _posterior(b=m, d=d, seed=4)
    z = _codes(q, k=k, seed=5)
    n = m if dataset_size is None else dataset_size
    log_qz_x, log_qz, log_qz_marginals = minibatch_weighted_sampling(q, z, dataset_size)
    sd = torch.exp(0.5 * q.log_var)
    for s in range(k):
        for i in range(m):
            joint = 0.0
            marginals = [0.0] * d
            for j in range(m):
                densities = [
                    Normal(q.mean[j, e], sd[j, e]).log_prob(z[s, i, e]).exp().item()
                    for e in range(d)
                ]
                joint += math.prod(densities)
                marginals = [a + b for a, b in zip(marginals, densities, strict=True)]
            own = sum(Normal(q.mean[i, e], sd[i, e]).log_prob(z[s, i, e]).item() for e in range(d))
            assert log_qz_x[s, i].item() == pytest.approx(own, rel=1e-12, abs=1e-12)
            expected = math.log(joint) - math.log(n * m)
            assert log_qz[s, i].item() == pytest.approx(expected, rel=1e-12, abs=1e-12)
            expected = sum(math.log(a) - math.log(n * m) for a in marginals)
            assert log_qz_marginals[s, i].item() == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_outside_the_trainer_n_is_the_batch_size():
    q = _posterior(b=8, d=3)
    z = _codes(q, k=2)
    for a, b in zip(_three(q, z, None), _three(q, z, 8), strict=True):
        assert torch.equal(a, b)


def test_n_shifts_the_values_by_constants_and_leaves_the_gradients():
    """MWS's log q(z) is the batch mixture's minus log N: MI moves by +log N, TC by
    +(d − 1)·log N, the dimension-wise KL by −d·log N, and no gradient changes."""
    d, n = 3, 10_000
    mean = torch.randn(16, d, dtype=torch.float64, requires_grad=True)
    log_var = torch.zeros(16, d, dtype=torch.float64, requires_grad=True)
    eps = torch.randn(2, 16, d, dtype=torch.float64)

    def terms(dataset_size):
        q = DiagGaussian(mean, log_var)
        return _three(q, mean + torch.exp(0.5 * log_var) * eps, dataset_size)

    at_m, at_n = terms(None), terms(n)
    shift = math.log(n / 16)
    for a, b, times in zip(at_m, at_n, (1, d - 1, -d), strict=True):
        expected = torch.tensor(times * shift, dtype=torch.float64)
        torch.testing.assert_close(b - a, expected, rtol=0, atol=1e-9)
        grads_m = torch.autograd.grad(a, (mean, log_var), retain_graph=True)
        grads_n = torch.autograd.grad(b, (mean, log_var), retain_graph=True)
        for g_m, g_n in zip(grads_m, grads_n, strict=True):
            torch.testing.assert_close(g_n, g_m, rtol=1e-12, atol=1e-12)


def _tc_above_the_mws_constant(q, z, n):
    """TC minus MWS's (d − 1)·log N: the batch mixture's own total correlation."""
    return TotalCorrelationTerm()(q, z, n).item() - (z.shape[-1] - 1) * math.log(n)


def test_tc_is_exactly_the_mws_constant_when_every_posterior_is_the_prior():
    """q(z|x_j) = N(0, I) for every j: the mixture factorises exactly, TC = (d − 1)·log N."""
    m, d, n = 50, 4, 60_000
    q = DiagGaussian(torch.zeros(m, d, dtype=torch.float64), torch.zeros(m, d).double())
    z = _codes(q, k=2)
    assert abs(_tc_above_the_mws_constant(q, z, n)) < 1e-9


def test_tc_is_near_the_constant_on_independent_codes_and_far_above_on_correlated_ones():
    """1,000 codes in 3 dimensions. Independent: means N(0, I), unit variances; the mixture is
    close to N(0, 2I), TC within 0.05 nats of the constant. Perfectly correlated: means
    t·(1, 1, 1), t ~ N(0, 1), σ = 0.01; TC more than 5 nats above it."""
    m, d, n = 1_000, 3, 60_000
    g = torch.Generator().manual_seed(6)
    independent = DiagGaussian(
        torch.randn(m, d, generator=g, dtype=torch.float64), torch.zeros(m, d).double()
    )
    t = torch.randn(m, 1, generator=g, dtype=torch.float64)
    correlated = DiagGaussian(t.expand(m, d), torch.full((m, d), math.log(1e-4)).double())
    low = _tc_above_the_mws_constant(independent, _codes(independent, k=1), n)
    high = _tc_above_the_mws_constant(correlated, _codes(correlated, k=1), n)
    assert abs(low) < 0.05, low
    assert high > 5, high


def _spec_file(tmp_path, posterior: str) -> str:
    path = tmp_path / "tc.toml"
    path.write_text(
        "\n".join(
            [
                '[model]\nname = "tc"',
                '[encoder]\narch = "mlp"\nhidden = [8]',
                '[decoder]\narch = "mlp"\nhidden = [8]',
                "[input]\nshape = [1, 4, 4]",
                f'[latent]\ndim = 2\nposterior = {{ kind = "{posterior}" }}',
                '[prior]\nkind = "standard_normal"',
                '[terms]\nrecon = { kind = "reconstruction" }\ntc = { kind = "total_correlation" }',
                '[objective]\nloss = "recon + tc"',
            ]
        )
        + "\n"
    )
    return str(path)


def test_mws_refuses_a_posterior_without_per_dimension_densities(tmp_path):
    with pytest.raises(SpecError) as err:
        gaespec.build(gaespec.load_spec(_spec_file(tmp_path, "deterministic")))
    assert err.value.key == "terms.tc.kind"
    assert str(err.value).endswith(
        "terms.tc.kind: minibatch weighted sampling needs the density of every code under every "
        "posterior of the batch, dimension by dimension; the posterior 'deterministic' gives "
        'none; fix: use latent.posterior = { kind = "diag_gaussian" }'
    )


def test_the_model_hands_the_terms_the_training_sets_size(tiny_model):
    """The composed β-TC-VAE with dataset_size = N and without (N = M = 8): MI, TC and the
    dimension-wise KL move by the MWS constants, the other terms not at all."""
    model = tiny_model("beta_tc_vae")
    x = torch.rand(8, 1, 6, 6)
    torch.manual_seed(0)
    without = model(x).terms
    torch.manual_seed(0)
    with_n = model(x, dataset_size=5_000).terms
    d, shift = 4, math.log(5_000 / 8)
    for name, times in (("mi", 1), ("tc", d - 1), ("dim_kl", -d)):
        difference = (with_n[name] - without[name]).item()
        assert difference == pytest.approx(times * shift, rel=1e-4), name
    for name in ("recon", "kl"):
        assert torch.equal(with_n[name], without[name])


def _counting(monkeypatch) -> list[int]:
    """Counts the estimates minibatch_weighted_sampling computes (not the ones it reuses)."""
    calls = []
    estimate = total_correlation._minibatch_weighted_sampling

    def counted(*args):
        calls.append(1)
        return estimate(*args)

    monkeypatch.setattr(total_correlation, "_minibatch_weighted_sampling", counted)
    return calls


def test_one_forward_computes_the_estimate_once_for_the_three_terms(tiny_model, monkeypatch):
    """MI, TC and the dimension-wise KL read one q and one z: one (k b b d) estimate, shared,
    gives each the value of its own estimate, exactly (the same operations)."""
    calls = _counting(monkeypatch)
    model = tiny_model("beta_tc_vae", "latent.samples=2")
    torch.manual_seed(0)
    out = model(torch.rand(8, 1, 6, 6), dataset_size=5_000)
    assert len(calls) == 1
    q, z = out.tensors["q"], out.tensors["z"]
    for name, term in zip(("mi", "tc", "dim_kl"), TERMS, strict=True):
        alone = DiagGaussian(q.mean, q.log_var)  # a posterior of its own: nothing kept
        args = (alone, z, 5_000, model.prior) if name == "dim_kl" else (alone, z, 5_000)
        assert torch.equal(out.terms[name], term(*args)), name
    assert len(calls) == 4


def test_the_estimate_is_computed_again_for_other_codes_n_or_grad_mode(monkeypatch):
    calls = _counting(monkeypatch)
    mean = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    q = DiagGaussian(mean, torch.zeros(6, 3, dtype=torch.float64))
    z, other = _codes(q, k=2), _codes(q, k=2, seed=2)
    first = minibatch_weighted_sampling(q, z, 100)
    assert minibatch_weighted_sampling(q, z, 100) is first and len(calls) == 1
    for codes, n in ((other, 100), (z, 200), (z, None)):
        again = minibatch_weighted_sampling(q, codes, n)
        assert again is not first
        fresh = total_correlation._minibatch_weighted_sampling(q, codes, n)
        for a, b in zip(again, fresh, strict=True):
            assert torch.equal(a, b)
    with torch.no_grad():  # kept without a graph: not handed to a caller that wants one
        detached = minibatch_weighted_sampling(q, z, 100)
    assert detached[1].grad_fn is None
    assert minibatch_weighted_sampling(q, z, 100)[1].grad_fn is not None


# FactorVAE


def test_permuting_keeps_each_dimensions_values_and_breaks_the_joint():
    """Perfectly correlated codes (every dimension equal): after the permutation each column
    holds the same multiset of values, and rows whose dimensions differ appear."""
    n, d = 64, 4
    z = torch.arange(n, dtype=torch.float64)[:, None].expand(n, d).contiguous()
    torch.manual_seed(0)
    permuted = permute_dims(z)
    assert permuted.shape == (n, d)
    for e in range(d):
        assert torch.equal(permuted[:, e].sort().values, z[:, e])
    assert not torch.equal(permuted, z)
    unequal = (permuted != permuted[:, :1]).any(dim=1)
    assert unequal.sum() > n // 2
    # not a permutation of whole rows: the joint changed, not only the order
    assert sorted(map(tuple, permuted.tolist())) != sorted(map(tuple, z.tolist()))


class _LinearCritic(nn.Module):
    """A hand-built critic: logit₀ = Σ_d z_d, logit₁ = 2·z_0."""

    def forward(self, z):
        return torch.stack([z.sum(-1), 2 * z[:, 0]], dim=-1)


def test_tc_term_is_the_mean_logit_difference_of_a_hand_built_critic():
    z = torch.randn(2, 5, 3, dtype=torch.float64)
    value = DensityRatioTCTerm()(z, _LinearCritic())
    expected = sum(z[s, i].sum().item() - 2 * z[s, i, 0].item() for s in range(2) for i in range(5))
    assert value.item() == pytest.approx(expected / 10, rel=1e-12, abs=1e-12)


class _TrueRatioCritic(nn.Module):
    """The Bayes-optimal critic for z ~ N(0, Σ) against its marginals N(0, 1) per dimension:
    logit₀ − logit₁ = log N(z; 0, Σ) − Σ_d log N(z_d; 0, 1)."""

    def __init__(self, covariance):
        super().__init__()
        self.joint = MultivariateNormal(torch.zeros(2).double(), covariance)

    def forward(self, z):
        marginals = Normal(0.0, 1.0).log_prob(z).sum(-1)
        return torch.stack([self.joint.log_prob(z), marginals], dim=-1)


def test_class_zero_for_codes_gives_the_tc_with_its_sign():
    """With the true density ratio as critic, the term estimates TC = −½·log(1 − ρ²) of a
    bivariate normal of correlation ρ = 0.8 (0.5108 nats) within 0.01 on 200,000 codes."""
    rho = 0.8
    covariance = torch.tensor([[1.0, rho], [rho, 1.0]], dtype=torch.float64)
    torch.manual_seed(0)
    z = MultivariateNormal(torch.zeros(2).double(), covariance).sample((1, 200_000))
    value = DensityRatioTCTerm()(z, _TrueRatioCritic(covariance)).item()
    assert value == pytest.approx(-0.5 * math.log(1 - rho**2), abs=0.01)


class _ProductCritic(nn.Module):
    """A hand-built critic that sees dependence: logit₀ = z_0·z_1, logit₁ = z_2."""

    def forward(self, z):
        return torch.stack([z[:, 0] * z[:, 1], z[:, 2]], dim=-1)


def test_critic_loss_is_half_the_two_cross_entropies():
    """½[mean −log softmax(D(z))₀ + mean −log softmax(D(z̃))₁], z̃ the same draw of
    permute_dims, the log-softmax written out (a critic linear in z could not tell the labels
    apart: permuting keeps every column's mean)."""
    critic = _ProductCritic()
    z = torch.randn(2, 6, 3, dtype=torch.float64)
    torch.manual_seed(7)
    value = PermutedCodeCETerm()(z, critic)
    torch.manual_seed(7)
    flat = z.reshape(12, 3)
    permuted = permute_dims(flat)

    def minus_log_softmax(logits, label):
        return (torch.logsumexp(logits, dim=-1) - logits[:, label]).mean()

    expected = 0.5 * (minus_log_softmax(critic(flat), 0) + minus_log_softmax(critic(permuted), 1))
    torch.testing.assert_close(value, expected, rtol=1e-12, atol=1e-12)


def test_critic_loss_gives_the_codes_no_gradient():
    torch.manual_seed(0)
    critic = DensityRatioCritic(3, (8, 8))
    z = torch.randn(1, 10, 3, requires_grad=True)
    PermutedCodeCETerm()(z, critic).backward()
    assert z.grad is None
    assert all(p.grad is not None and p.grad.any() for p in critic.parameters())


def test_critic_is_leaky_relu_mlp_with_two_logits():
    torch.manual_seed(0)
    critic = DensityRatioCritic(4, (1000,) * 5)
    linear = [m for m in critic.layers if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(4, 1000)] + [(1000, 1000)] * 4 + [
        (1000, 2)
    ]
    small = DensityRatioCritic(4, (5, 7)).double()
    a, _, b, _, c = small.layers
    z = torch.randn(6, 4, dtype=torch.float64)

    def leaky(v):
        return torch.where(v > 0, v, 0.2 * v)

    expected = leaky(leaky(z @ a.weight.T + a.bias) @ b.weight.T + b.bias) @ c.weight.T + c.bias
    assert small(z).shape == (6, 2)
    torch.testing.assert_close(small(z), expected, rtol=1e-12, atol=1e-12)
