"""KL(q ‖ p) against torch.distributions: analytic, Monte Carlo, and the pairwise registry."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch.distributions import Independent, Normal
from torch.distributions import kl_divergence as torch_kl

from gaespec.components.distributions import (
    DiagGaussian,
    StandardNormalDistribution,
)
from gaespec.components.divergences import (
    ANALYTIC_KL,
    KLTerm,
    MonteCarloKLTerm,
    kl_diag_gaussian_standard_normal,
)
from gaespec.components.priors import StandardNormalPrior
from gaespec.errors import SpecError


def _random_gaussian(b: int, d: int, seed: int = 0) -> DiagGaussian:
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(b, d, generator=g, dtype=torch.float64) * 2
    log_var = torch.randn(b, d, generator=g, dtype=torch.float64) * 1.5
    return DiagGaussian(mean, log_var)


def _torch_pair(q: DiagGaussian):
    q_ref = Independent(Normal(q.mean, torch.exp(0.5 * q.log_var)), 1)
    p_ref = Independent(Normal(torch.zeros_like(q.mean), torch.ones_like(q.mean)), 1)
    return q_ref, p_ref


def test_analytic_kl_matches_torch_distributions():
    q = _random_gaussian(b=64, d=7)
    ours = kl_diag_gaussian_standard_normal(q, StandardNormalDistribution(7))
    expected = torch_kl(*_torch_pair(q))
    assert ours.shape == (64,)
    torch.testing.assert_close(ours, expected, rtol=1e-12, atol=1e-12)


def test_analytic_kl_is_zero_at_the_prior():
    q = DiagGaussian(torch.zeros(3, 5, dtype=torch.float64), torch.zeros(3, 5, dtype=torch.float64))
    kl = kl_diag_gaussian_standard_normal(q, StandardNormalDistribution(5))
    # the KL takes exp(log_var): no CPU promises exp(0) == 1 in its vectorised exp
    torch.testing.assert_close(kl, torch.zeros(3).double(), rtol=0, atol=1e-12)


def test_analytic_kl_agrees_with_a_monte_carlo_estimate():
    q = _random_gaussian(b=4, d=3, seed=1)
    q_ref, p_ref = _torch_pair(q)
    torch.manual_seed(0)
    z = q_ref.sample((200_000,))  # (n b d)
    estimate = (q_ref.log_prob(z) - p_ref.log_prob(z)).mean(0)
    analytic = kl_diag_gaussian_standard_normal(q, StandardNormalDistribution(3))
    torch.testing.assert_close(estimate, analytic, rtol=0.03, atol=0.03)


def test_kl_term_is_the_batch_mean(tiny_model):
    q = _random_gaussian(b=10, d=4, seed=2)
    model = SimpleNamespace(prior=lambda: StandardNormalDistribution(4))
    term = tiny_model("vae").terms["kl"]
    assert isinstance(term, KLTerm)
    expected = torch_kl(*_torch_pair(q)).sum() / 10
    torch.testing.assert_close(term(q, model.prior), expected, rtol=1e-12, atol=1e-12)


def test_the_kl_term_takes_the_closed_form_of_its_pair(tiny_model):
    term = tiny_model("vae").terms["kl"]
    assert term.divergence is ANALYTIC_KL[("diag_gaussian", "standard_normal")]
    assert term.divergence is kl_diag_gaussian_standard_normal


def test_a_kl_without_closed_form_fails_at_validation(tiny_model):
    with pytest.raises(SpecError) as err:
        tiny_model("vae", "latent.posterior={kind='deterministic'}")
    assert (Path(err.value.file).name, err.value.line, err.value.key) == (
        "vae.toml",
        23,
        "terms.kl.kind",
    )
    assert str(err.value) == err.value.file + ":23:1: " + (
        "terms.kl.kind: no analytic KL between the posterior 'deterministic' and the prior "
        "'standard_normal'; fix: use a posterior and prior with a closed-form KL "
        '(diag_gaussian with standard_normal), or estimate it: kind = "monte_carlo_kl"'
    )


def test_monte_carlo_kl_against_torch_distributions_and_the_closed_form():
    torch.manual_seed(0)
    mean = torch.randn(3, 2, dtype=torch.float64)
    log_var = torch.randn(3, 2, dtype=torch.float64)
    q = DiagGaussian(mean, log_var)
    z = q.rsample(50000)
    term = MonteCarloKLTerm()(q, z, StandardNormalPrior(2))
    exact_q = Independent(Normal(mean, torch.exp(0.5 * log_var)), 1)
    exact_p = Independent(Normal(torch.zeros(2, dtype=torch.float64), 1.0), 1)
    by_hand = (exact_q.log_prob(z) - exact_p.log_prob(z)).mean()
    torch.testing.assert_close(term, by_hand, rtol=1e-12, atol=1e-12)
    # an unbiased estimate: near the closed form on many samples (150,000 draws: within 0.03)
    closed = torch_kl(exact_q, exact_p).mean()
    assert abs(term.item() - closed.item()) < 0.03, (term.item(), closed.item())


def test_monte_carlo_kl_needs_a_posterior_density(tiny_model):
    with pytest.raises(SpecError) as err:
        tiny_model("vae", 'latent.posterior.kind="deterministic"', 'terms.kl.kind="monte_carlo_kl"')
    assert str(err.value).endswith(
        "terms.kl.kind: a Monte Carlo KL needs the density of the posterior, but the posterior "
        "'deterministic' has none; fix: use a posterior and a prior with a density (e.g. "
        "diag_gaussian and standard_normal)"
    )
