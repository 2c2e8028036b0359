"""The two-stage VAE sampler: the paper's loss with its log γ term, and a known Gaussian."""

import torch
from tiny import StubModel, tiny_vae
from torch.distributions import Normal, kl_divergence

from gaespec.samplers import make_sampler, sample
from gaespec.samplers.two_stage import SecondStageVAE

MEAN = torch.tensor([1.0, -2.0])
SCALE = torch.tensor([[1.4, 0.0], [0.85, 0.9]])  # covariance L Lᵀ = [[1.96, 1.19], [1.19, 1.53]]
COVARIANCE = SCALE @ SCALE.T


def _draw(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return MEAN + torch.randn(n, 2, generator=g) @ SCALE.T


def test_the_loss_is_the_negative_elbo_with_a_learned_variance():
    torch.manual_seed(0)
    vae = SecondStageVAE(3, depth=2, width=8).double()
    with torch.no_grad():
        vae.log_gamma.fill_(-1.3)
    z = torch.randn(6, 3, dtype=torch.float64)
    torch.manual_seed(1)
    loss = vae.negative_elbo(z)
    # by hand, the same noise: q(u|z) = N(μ, σ²), u = μ + σ·ε, p(z|u) = N(μ(u), γ I)
    q = vae.posterior(vae.encoder(z))
    torch.manual_seed(1)
    u = q.mean + torch.exp(0.5 * q.log_var) * torch.randn(1, 6, 3, dtype=torch.float64)[0]
    kl = kl_divergence(Normal(q.mean, torch.exp(0.5 * q.log_var)), Normal(0.0, 1.0)).sum(-1)
    gamma = torch.exp(torch.tensor(-1.3, dtype=torch.float64))
    nll = -Normal(vae.decoder(u), gamma.sqrt()).log_prob(z).sum(-1)
    torch.testing.assert_close(loss, kl + nll, rtol=1e-12, atol=1e-12)
    # γ is learned through the log γ term as well as the squared error
    (grad,) = torch.autograd.grad(loss.sum(), [vae.log_gamma])
    squared = ((z - vae.decoder(u)) ** 2).sum()
    torch.testing.assert_close(grad, (-squared / gamma + 6 * 3) / 2, rtol=1e-10, atol=0)


def test_samples_have_the_mean_and_covariance_of_the_codes():
    s = make_sampler("two_stage", width=64, epochs=60, lr=3e-3, batch_size=200, validation=0)
    s.fit(StubModel(dim=2), _draw(2000, seed=0))
    z = s.sample(20_000, generator=torch.Generator().manual_seed(1))
    # 20,000 draws: standard errors ≤ 0.01 (means) and 0.02 (covariances); we saw the fit off by
    # 0.08 (means) and 0.09 (covariances) at most; without the noise of p(z|u) the variances
    # would be short by γ (we saw 0.63)
    torch.testing.assert_close(z.mean(0), MEAN, rtol=0, atol=0.15)
    torch.testing.assert_close(torch.cov(z.T), COVARIANCE, rtol=0, atol=0.2)
    # at the optimum γ is at most the covariance's smallest eigenvalue, 0.54
    assert 0.3 < s.report["gamma"] < 0.9


def test_images_through_a_tiny_vae_have_the_data_shape():
    model = tiny_vae()
    images = sample(
        model, "two_stage", 7, torch.rand(40, 1, 28, 28), seed=0, width=16, epochs=2, batch_size=8
    )
    assert images.shape == (7, 1, 28, 28)
    assert images.min() >= 0 and images.max() <= 1


def test_defaults_are_pythaes_two_layers_of_1024():
    s = make_sampler("two_stage")
    assert (s.depth, s.width, s.epochs, s.lr, s.batch_size) == (2, 1024, 100, 1e-4, 64)
