"""The latent distributions against torch.distributions: log-densities, samples, point masses."""

from __future__ import annotations

import torch
from torch.distributions import Independent, Normal

from gaespec.components.distributions import DiagGaussian, PointMass, StandardNormalDistribution


def _params(b: int, d: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(b, d, generator=g, dtype=torch.float64)
    log_var = torch.randn(b, d, generator=g, dtype=torch.float64)
    return mean, log_var


def test_diag_gaussian_log_prob_matches_torch():
    mean, log_var = _params(5, 3)
    z = torch.randn(7, 5, 3, dtype=torch.float64)  # (k b d)
    ours = DiagGaussian(mean, log_var).log_prob(z)
    expected = Independent(Normal(mean, torch.exp(0.5 * log_var)), 1).log_prob(z)
    assert ours.shape == (7, 5)
    torch.testing.assert_close(ours, expected, rtol=1e-12, atol=1e-12)


def test_standard_normal_log_prob_matches_torch():
    z = torch.randn(7, 5, 3, dtype=torch.float64) * 3
    ours = StandardNormalDistribution(3).log_prob(z)
    expected = Independent(Normal(torch.zeros(3).double(), torch.ones(3).double()), 1).log_prob(z)
    torch.testing.assert_close(ours, expected, rtol=1e-12, atol=1e-12)


def test_rsample_shape_and_moments():
    mean = torch.tensor([[0.0, 3.0], [-2.0, 1.0]], dtype=torch.float64)
    log_var = torch.tensor([[0.0, 1.0], [-1.0, 2.0]], dtype=torch.float64)
    torch.manual_seed(0)
    z = DiagGaussian(mean, log_var).rsample(40_000)
    assert z.shape == (40_000, 2, 2) and z.dtype == torch.float64
    torch.testing.assert_close(z.mean(0), mean, rtol=0, atol=0.05)
    torch.testing.assert_close(z.var(0), log_var.exp(), rtol=0.04, atol=0)


def test_rsample_is_reparameterised():
    mean, log_var = (p.requires_grad_() for p in _params(3, 2))
    z = DiagGaussian(mean, log_var).rsample(4)
    z.sum().backward()
    # dz/dμ = 1 per sample, summed over 4 samples: exact
    assert torch.equal(mean.grad, torch.full((3, 2), 4.0, dtype=torch.float64))
    assert log_var.grad is not None


def test_standard_normal_sample_shape_dtype_and_moments():
    torch.manual_seed(0)
    z = StandardNormalDistribution(3).sample(50_000, dtype=torch.float64)
    assert z.shape == (50_000, 3) and z.dtype == torch.float64
    torch.testing.assert_close(z.mean(0), torch.zeros(3).double(), rtol=0, atol=0.03)
    torch.testing.assert_close(z.var(0), torch.ones(3).double(), rtol=0.03, atol=0)


def test_point_mass_repeats_the_mean():
    mean = torch.randn(4, 3)
    z = PointMass(mean).rsample(5)
    assert z.shape == (5, 4, 3)
    for k in range(5):
        assert torch.equal(z[k], mean)
