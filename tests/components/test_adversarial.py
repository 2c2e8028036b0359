"""The AAE critic and its two terms: architecture, values by hand, and no gradient leakage."""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch
from torch import nn

from gaespec.components.adversarial import (
    AdversarialCriticTerm,
    AdversarialGeneratorTerm,
    MLPDiscriminator,
)
from gaespec.components.distributions import StandardNormalDistribution

D = 4


def _critic(seed: int = 0, hidden=(256,)) -> MLPDiscriminator:
    torch.manual_seed(seed)
    return MLPDiscriminator(D, hidden).double()


class _FixedPrior:
    """A prior whose samples are given in advance."""

    def __init__(self, samples: torch.Tensor):
        self.samples = samples
        self.calls: list[tuple] = []

    def sample(self, n, *, device=None, dtype=None):
        self.calls.append((n, device, dtype))
        return self.samples[:n]


def _z(k: int = 2, b: int = 3, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(k, b, D, generator=g, dtype=torch.float64)


def test_layer_widths_of_the_default_critic():
    critic = _critic()
    linear = [m for m in critic.layers if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(D, 256), (256, 1)]
    kinds = [type(m) for m in critic.layers]
    assert kinds == [nn.Linear, nn.ReLU, nn.Linear, nn.Sigmoid]
    out = critic(torch.randn(10, D, dtype=torch.float64) * 5)
    assert out.shape == (10,) and bool(((out > 0) & (out < 1)).all())


def test_critic_is_relu_mlp_then_sigmoid():
    critic = _critic(hidden=(5, 7))
    z = torch.randn(6, D, dtype=torch.float64)
    a, _, b, _, c, _ = critic.layers
    h = torch.clamp(z @ a.weight.T + a.bias, min=0)
    h = torch.clamp(h @ b.weight.T + b.bias, min=0)
    expected = 1 / (1 + torch.exp(-(h @ c.weight.T + c.bias)[:, 0]))
    torch.testing.assert_close(critic(z), expected, rtol=1e-12, atol=1e-12)


def test_generator_term_is_mean_minus_log_d_of_codes():
    critic = _critic()
    z = _z()
    term = AdversarialGeneratorTerm()
    value = term(z, critic)
    with torch.no_grad():
        judged = [critic(z[i, j : j + 1]).item() for i in range(2) for j in range(3)]
    assert abs(value.item() - sum(-math.log(p) for p in judged) / 6) < 1e-12


def test_critic_term_is_bce_on_prior_samples_and_codes():
    critic = _critic()
    z = _z()
    z_prior = torch.randn(6, D, dtype=torch.float64) * 2
    prior = _FixedPrior(z_prior)
    model = SimpleNamespace(critic=critic, prior=lambda: prior)
    term = AdversarialCriticTerm()
    value = term(z, critic, model.prior)
    assert prior.calls == [(6, z.device, torch.float64)]  # one prior sample per code
    with torch.no_grad():
        real = [critic(z_prior[i : i + 1]).item() for i in range(6)]
        fake = [critic(z[i, j : j + 1]).item() for i in range(2) for j in range(3)]
    expected = sum(-math.log(p) for p in real) / 6 + sum(-math.log(1 - p) for p in fake) / 6
    assert abs(value.item() - expected) < 1e-12


def _aae(tiny_model, monkeypatch):
    torch.manual_seed(0)
    model = tiny_model("aae")
    fixed = torch.randn(8, D)
    monkeypatch.setattr(
        StandardNormalDistribution, "sample", lambda self, n, device=None, dtype=None: fixed[:n]
    )
    return model, model(torch.rand(8, 1, 6, 6))


def test_aae_critic_term_uses_the_models_prior_samples(tiny_model, monkeypatch):
    model, out = _aae(tiny_model, monkeypatch)
    z = out.tensors["z"][0].detach()
    with torch.no_grad():
        real, fake = model.critic(model.prior().sample(8)), model.critic(z)
    expected = -(real.log().mean() + (1 - fake).log().mean())
    # binary_cross_entropy takes its own log: an ulp or two of float32 apart
    torch.testing.assert_close(out.terms["critic_bce"], expected, rtol=1e-6, atol=1e-6)


def test_critic_loss_reaches_only_the_critic(tiny_model, monkeypatch):
    model, out = _aae(tiny_model, monkeypatch)
    out.losses["critic"].backward()
    for name in ("encoder", "posterior", "decoder"):
        for p in getattr(model, name).parameters():
            assert p.grad is None or not p.grad.any(), name
    critic = list(model.critic.parameters())
    assert critic and all(p.grad is not None and p.grad.any() for p in critic)


def test_generator_backward_restricted_to_the_autoencoder_leaves_the_critic_alone(
    tiny_model, monkeypatch
):
    model, out = _aae(tiny_model, monkeypatch)
    groups = model.parameter_groups()
    assert {id(p) for p in groups["critic"]} == {id(p) for p in model.critic.parameters()}
    encoder = list(model.encoder.parameters()) + list(model.posterior.parameters())
    torch.autograd.backward(out.terms["adversarial"], inputs=encoder)
    assert all(p.grad is None for p in model.critic.parameters())
    assert all(p.grad is not None for p in encoder)
    assert any(p.grad.any() for p in encoder)
