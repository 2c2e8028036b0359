"""The IWAE bound against torch.distributions and numpy: value, tightening, and its gradient."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.distributions import Independent, Normal

from gaespec.components.distributions import DiagGaussian
from gaespec.components.iwae import IWAEBoundTerm
from gaespec.errors import SpecError


def _log_weights_by_hand(t: dict) -> torch.Tensor:
    """log w = log p(x|z) + log p(z) − log q(z|x), (k b), with torch.distributions only.

    The reconstruction term is ½·Σ(x − x̂)²: the unit-variance Gaussian likelihood less its
    constant, so the constant ½·D·log 2π goes back in.
    """
    x, x_hat, z, q = t["x"], t["x_hat"], t["z"], t["q"]
    shape = x.shape[1:]
    log_px = Independent(Normal(x_hat, 1.0), len(shape)).log_prob(x.expand_as(x_hat))
    log_px = log_px + 0.5 * math.prod(shape) * math.log(2 * math.pi)
    log_pz = Independent(Normal(torch.zeros_like(z), 1.0), 1).log_prob(z)
    log_qz = Independent(Normal(q.mean, torch.exp(0.5 * q.log_var)), 1).log_prob(z)
    return log_px + log_pz - log_qz


def _model(tiny_model, k: int):
    torch.manual_seed(0)
    model = tiny_model("iwae", f"latent.samples={k}").double()
    x = torch.rand(6, 1, 6, 6, dtype=torch.float64)
    return model, x


def test_one_sample_bound_is_the_negative_elbo(tiny_model):
    model, x = _model(tiny_model, 1)
    out = model(x)
    t = out.tensors
    assert t["z"].shape == (1, 6, 4)
    elbo = _log_weights_by_hand(t)[0]  # (b)
    torch.testing.assert_close(out.terms["bound"], -elbo.mean(), rtol=1e-10, atol=1e-10)


def test_k_sample_bound_is_the_log_mean_exp_of_weights(tiny_model):
    model, x = _model(tiny_model, 5)
    out = model(x)
    log_w = _log_weights_by_hand(out.tensors).detach().numpy()  # (k b), float64
    assert log_w.shape == (5, 6)
    per_input = [-math.log(np.mean(np.exp(log_w[:, j]))) for j in range(6)]
    assert abs(out.terms["bound"].item() - float(np.mean(per_input))) < 1e-9


def test_more_samples_tighten_the_bound(tiny_model):
    """E[−L_8] ≤ E[−L_2] ≤ E[−L_1] (Burda et al., theorem 1), each from its own draws."""
    model, _ = _model(tiny_model, 1)
    term = model.terms["bound"]
    torch.manual_seed(1)
    b, draws = 64, 800
    x = torch.rand(b, 1, 6, 6, dtype=torch.float64)
    means, errors = {}, {}
    with torch.no_grad():
        q = model.encode(x)
        for k in (1, 2, 8):
            n = draws // k  # n independent draws of the K-sample bound for each input
            wide = DiagGaussian(q.mean.repeat(n, 1), q.log_var.repeat(n, 1))  # (n·b d)
            z = wide.rsample(k)
            x_hat = model.interpret(model.graph.program.slice(("z",), ("x_hat",)), {"z": z})[
                "x_hat"
            ]
            t = {"x": x.repeat(n, 1, 1, 1), "q": wide, "z": z, "x_hat": x_hat}
            log_w = _log_weights_by_hand(t)  # (k n·b)
            per_draw = -(torch.logsumexp(log_w, 0) - math.log(k)).reshape(n, b).mean(1)
            recon = model.terms["recon"].per_sample(t["x"], t["x_hat"])  # (k n·b)
            value = term(recon, t["q"], t["z"], model.prior)
            torch.testing.assert_close(value, per_draw.mean(), rtol=1e-10, atol=1e-10)
            means[k] = per_draw.mean().item()
            errors[k] = per_draw.std().item() / math.sqrt(n)
    for k, fewer in ((8, 2), (2, 1)):
        margin = 5 * math.hypot(errors[k], errors[fewer])
        assert means[k] < means[fewer] - margin, (means, errors)


def test_gradient_in_the_log_weights_is_the_softmax(monkeypatch):
    g = torch.Generator().manual_seed(0)
    log_w = (torch.randn(7, 3, generator=g, dtype=torch.float64) * 4).requires_grad_()
    term = IWAEBoundTerm.__new__(IWAEBoundTerm)
    monkeypatch.setattr(term, "log_weights", lambda *reads: log_w, raising=False)
    term(None, None, None, None).backward()
    w = np.exp(log_w.detach().numpy())
    softmax = w / w.sum(axis=0, keepdims=True)
    np.testing.assert_allclose(log_w.grad.numpy(), -softmax / 3, rtol=1e-12, atol=1e-15)


def test_parameter_gradient_is_the_importance_weighted_sum(tiny_model):
    model, x = _model(tiny_model, 4)
    out = model(x)
    params = list(model.encoder.parameters()) + list(model.posterior.parameters())
    params += list(model.decoder.parameters())
    ours = torch.autograd.grad(out.terms["bound"], params, retain_graph=True)
    log_w = _log_weights_by_hand(out.tensors)
    w = torch.softmax(log_w.detach(), dim=0)
    surrogate = -(w * log_w).sum(0).mean()  # −(1/B) Σ_b Σ_k w̃_kb ∇ log w_kb
    expected = torch.autograd.grad(surrogate, params)
    for a, b in zip(ours, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_the_logged_terms_build_no_graph_and_keep_their_values(tiny_model):
    """recon and kl feed no objective (the bound alone is optimised): the model computes them
    without autograd, to the values the terms give with it."""
    model, x = _model(tiny_model, 3)
    out = model(x)
    assert out.terms["bound"].requires_grad
    assert not out.terms["recon"].requires_grad and not out.terms["kl"].requires_grad
    t = out.tensors
    recon, kl = model.terms["recon"](x, t["x_hat"]), model.terms["kl"](t["q"], model.prior)
    assert recon.requires_grad and kl.requires_grad
    assert torch.equal(out.terms["recon"], recon) and torch.equal(out.terms["kl"], kl)


def test_the_reconstruction_is_computed_once_for_the_bound_and_the_logged_term(tiny_model):
    """The program computes the reconstruction term's values for each sample once: the bound
    reads them (log p(x|z) = −recon) and the logged recon is their mean."""
    model, x = _model(tiny_model, 3)
    program = model.graph.program
    assert [(c.callee, c.method) for c in program.calls if c.reads == ("x", "x_hat")] == [
        ("recon", "per_sample")
    ]
    out = model(x)
    t = out.tensors
    values = t["recon.per_sample"]
    assert values.shape == (3, 6) and values.requires_grad  # the bound differentiates it
    assert torch.equal(values, model.terms["recon"].per_sample(x, t["x_hat"]))
    assert torch.equal(out.terms["recon"], values.mean())
    assert not out.terms["recon"].requires_grad
    expected = -(torch.logsumexp(_log_weights_by_hand(t), 0) - math.log(3)).mean()
    torch.testing.assert_close(out.terms["bound"], expected, rtol=1e-10, atol=1e-10)


def test_the_bound_reads_the_reconstruction_it_names_wherever_the_spec_declares_it(tiny_model):
    """A reconstruction term declared after the bound (here one of scale 2, by an override) is
    still computed first, and its scale is the bound's."""
    torch.manual_seed(0)
    model = tiny_model(
        "iwae",
        "latent.samples=2",
        "terms.rec2={kind='reconstruction', scale=2.0}",
        "terms.bound.reconstruction=rec2",
    ).double()
    x = torch.rand(5, 1, 6, 6, dtype=torch.float64)
    out = model(x)
    t = out.tensors
    recon2 = 2.0 * ((t["x_hat"] - x) ** 2).flatten(2).sum(-1)  # (k b), by hand
    log_w = -recon2 + _log_weights_by_hand(t) + 0.5 * ((t["x_hat"] - x) ** 2).flatten(2).sum(-1)
    expected = -(torch.logsumexp(log_w, 0) - math.log(2)).mean()
    torch.testing.assert_close(out.terms["bound"], expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(out.terms["rec2"], recon2.mean(), rtol=1e-12, atol=0)


def test_a_posterior_without_density_fails_at_validation(tiny_model):
    with pytest.raises(SpecError) as err:
        tiny_model(
            "iwae", "latent.posterior={kind='deterministic'}", "terms.kl={kind='reconstruction'}"
        )
    assert (Path(err.value.file).name, err.value.line, err.value.key) == (
        "iwae.toml",
        15,
        "terms.bound.kind",
    )
    assert str(err.value) == err.value.file + ":15:1: " + (
        "terms.bound.kind: the IWAE bound needs the density log q(z|x), but the posterior "
        "'deterministic' has none; "
        'fix: use latent.posterior = { kind = "diag_gaussian" }'
    )
