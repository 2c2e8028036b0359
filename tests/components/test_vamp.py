"""The VampPrior against torch.distributions: its density, its samples, and what it trains."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from gaespec.components.vamp import GaussianMixture


def _vamp(tiny_model, *overrides):
    torch.manual_seed(0)
    return tiny_model("vamp", "prior.components=7", *overrides).double()


def test_log_density_is_the_mixture_of_the_pseudo_inputs_posteriors(tiny_model):
    model = _vamp(tiny_model)
    u = model.prior.pseudo_input_images()
    assert u.shape == (7, 1, 6, 6)
    assert 0 <= u.min() and u.max() <= 1  # hardtanh to the data's range
    # the mixture built by hand: the model's own encoder and posterior on the pseudo-inputs
    q = model.posterior(model.encoder(u))
    components = Independent(Normal(q.mean, torch.exp(0.5 * q.log_var)), 1)
    mixture = MixtureSameFamily(Categorical(logits=torch.zeros(7, dtype=torch.float64)), components)
    z = torch.randn(3, 5, 4, dtype=torch.float64)
    torch.testing.assert_close(
        model.prior().log_prob(z), mixture.log_prob(z), rtol=1e-12, atol=1e-12
    )


def test_the_kl_is_log_q_minus_log_p_at_the_sample(tiny_model):
    model = _vamp(tiny_model)
    x = torch.rand(5, 1, 6, 6, dtype=torch.float64)
    torch.manual_seed(1)
    out = model(x)
    q, z = out.tensors["q"], out.tensors["z"]
    expected = (
        Independent(Normal(q.mean, torch.exp(0.5 * q.log_var)), 1).log_prob(z)
        - model.prior().log_prob(z)
    ).mean()
    torch.testing.assert_close(out.terms["kl"], expected, rtol=1e-12, atol=1e-12)


def test_the_kl_trains_the_pseudo_inputs_and_the_encoder_through_the_prior(tiny_model):
    model = _vamp(tiny_model)
    x = torch.rand(5, 1, 6, 6, dtype=torch.float64)
    out = model(x)
    pseudo = model.prior.pseudo_inputs.weight
    (grad,) = torch.autograd.grad(out.terms["kl"], [pseudo], retain_graph=True)
    assert grad.abs().sum() > 0
    # with the codes held fixed, the KL still reaches the encoder: through the prior alone
    z = out.tensors["z"].detach()
    log_p = model.prior().log_prob(z).mean()
    first = next(model.encoder.parameters())
    (through_prior,) = torch.autograd.grad(log_p, [first])
    assert through_prior.abs().sum() > 0
    # the prior's state holds only its pseudo-inputs: the encoder it calls is the model's
    assert list(model.prior.state_dict()) == ["pseudo_inputs.weight"]


def test_samples_follow_the_mixture():
    torch.manual_seed(0)
    mean = torch.tensor([[-5.0, 0.0], [5.0, 2.0]], dtype=torch.float64)
    log_var = torch.log(torch.tensor([[0.25, 1.0], [1.0, 4.0]], dtype=torch.float64))
    z = GaussianMixture(mean, log_var).sample(40000)
    assert z.shape == (40000, 2) and z.dtype == torch.float64
    left = z[:, 0] < 0
    # components are equally likely, and each keeps its mean and variance
    assert abs(left.double().mean().item() - 0.5) < 0.01
    for side, k in ((left, 0), (~left, 1)):
        torch.testing.assert_close(z[side].mean(0), mean[k], rtol=0, atol=0.05)
        torch.testing.assert_close(z[side].var(0), log_var[k].exp(), rtol=0.05, atol=0)


def test_the_mixture_of_one_component_is_that_gaussian():
    mean = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    log_var = torch.tensor([[0.5, -0.5]], dtype=torch.float64)
    z = torch.randn(6, 2, dtype=torch.float64)
    expected = Independent(Normal(mean[0], torch.exp(0.5 * log_var[0])), 1).log_prob(z)
    torch.testing.assert_close(GaussianMixture(mean, log_var).log_prob(z), expected)


def test_vamp_needs_a_gaussian_posterior(tiny_model):
    with pytest.raises(Exception) as error:
        tiny_model("vamp", 'latent.posterior.kind="deterministic"')
    assert "the VampPrior mixes diagonal-Gaussian posteriors, but the posterior is " in str(
        error.value
    )
    assert "'deterministic'" in str(error.value)


def test_the_pseudo_inputs_leave_the_encoders_batch_statistics_to_the_data():
    import gaespec

    torch.manual_seed(0)
    model = gaespec.build(gaespec.load_spec("vamp", ["prior.components=5"])).train()
    norms = [m for m in model.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    before = [m.running_mean.clone() for m in norms]
    model.prior()
    assert all(torch.equal(b, m.running_mean) for b, m in zip(before, norms, strict=True))
    assert all(m.training for m in norms)  # their mode is restored
    # the prior is one function of the weights: the same in training and in evaluation
    trained = model.prior().log_prob(torch.zeros(1, 16))
    torch.testing.assert_close(model.eval().prior().log_prob(torch.zeros(1, 16)), trained)
