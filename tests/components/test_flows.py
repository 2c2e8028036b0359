"""Flows and flow posteriors against torch.autograd.functional.jacobian and torch.distributions:
planar and radial log-determinants and constraints, MADE's order, IAF, and q(z_K|x)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.autograd.functional import jacobian
from torch.distributions import Independent, Normal

from gaespec.components.flows import (
    IAF,
    MADE,
    FlowGaussian,
    IAFPosterior,
    IAFStep,
    NormalizingFlowPosterior,
    PlanarFlow,
    RadialFlow,
)

D = 5
MESSAGE = (
    "a flow posterior's density is known only at its own samples: pass the tensor its last "
    "rsample returned (planar flows have no closed-form inverse)"
)


def _z(n: int = 7, d: int = D, seed: int = 1, scale: float = 1.5) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n, d, generator=g, dtype=torch.float64)


def _log_abs_det_by_jacobian(f, z: torch.Tensor) -> torch.Tensor:
    """log|det ∂f/∂z| per row of z (n d), f mapping (1 d) → (1 d), from autograd's Jacobian."""
    rows = [torch.linalg.slogdet(jacobian(lambda v: f(v[None])[0], z_i)).logabsdet for z_i in z]
    return torch.stack(rows)


def _planar(u: torch.Tensor, w: torch.Tensor, b: float) -> PlanarFlow:
    flow = PlanarFlow(len(u)).double()
    with torch.no_grad():
        flow.u.copy_(u)
        flow.w.copy_(w)
        flow.b.fill_(b)
    return flow


def _raw_planar_parameters():
    """(u, w, b): random ones, and adversarial ones where wᵀu < −1 (f(z) = z + u·tanh(...)
    would not be invertible without û)."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(D, generator=g, dtype=torch.float64)
    cases = [(torch.randn(D, generator=g, dtype=torch.float64), w, 0.3)]
    cases += [(-100.0 * w, w, 0.0), (-3.0 * w / (w @ w), w, -0.5), (5.0 * w, 1e-3 * w, 1.0)]
    cases += [(1e3 * torch.randn(D, generator=g, dtype=torch.float64), 10 * w, 2.0)]
    return cases


@pytest.mark.parametrize("case", range(5))
def test_planar_log_det_is_the_jacobians(case):
    u, w, b = _raw_planar_parameters()[case]
    flow = _planar(u, w, b)
    z = _z()
    f, log_det = flow(z)
    assert f.shape == (7, D) and log_det.shape == (7,)
    # f itself: z + û·tanh(wᵀz + b), û from the paper's appendix A.1 written out here
    wu = w @ u
    softplus = wu.clamp(min=0) + torch.log1p(torch.exp(-wu.abs()))  # log(1 + e^a), no overflow
    u_hat = u + (-1 + softplus - wu) * w / (w @ w)
    torch.testing.assert_close(f, z + torch.tanh(z @ w + b)[:, None] * u_hat, rtol=1e-12, atol=0)
    by_jacobian = _log_abs_det_by_jacobian(lambda v: flow(v)[0], z)
    torch.testing.assert_close(log_det, by_jacobian, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("case", range(5))
def test_planar_constraint_holds_for_any_raw_parameters(case):
    u, w, b = _raw_planar_parameters()[case]
    flow = _planar(u, w, b)
    if case in (1, 2):
        assert w @ u < -1  # the raw parameters alone would break invertibility
    w_u_hat = (w @ flow.u_hat()).item()
    # wᵀû = m(wᵀu) = −1 + softplus(wᵀu): at least −1 (−1 itself up to rounding when wᵀu ≪ 0)
    assert w_u_hat >= -1 - 1e-12
    torch.testing.assert_close(
        torch.tensor(w_u_hat, dtype=torch.float64), -1 + F.softplus(w @ u), rtol=0, atol=1e-12
    )
    # so the Jacobian's determinant 1 + h'·wᵀû is positive wherever h' = 1 − tanh² ∈ (0, 1]
    det = torch.linalg.det(jacobian(lambda v: flow(v[None])[0][0], _z(1)[0]))
    assert det > 0


def test_planar_constraint_holds_under_random_raw_parameters():
    g = torch.Generator().manual_seed(2)
    for _ in range(200):
        scale = 10 ** torch.empty(1).uniform_(-3, 3, generator=g).item()
        u = scale * torch.randn(D, generator=g, dtype=torch.float64)
        w = torch.randn(D, generator=g, dtype=torch.float64)
        assert (w @ _planar(u, w, 0.0).u_hat()).item() >= -1 - 1e-12


def _radial(z0: torch.Tensor, log_alpha: float, beta_hat: float) -> RadialFlow:
    flow = RadialFlow(len(z0)).double()
    with torch.no_grad():
        flow.z0.copy_(z0)
        flow.log_alpha.fill_(log_alpha)
        flow.beta_hat.fill_(beta_hat)
    return flow


RADIAL_CASES = [(0.0, 0.0), (1.5, -2.0), (-2.0, 3.0), (0.5, -100.0), (3.0, 50.0)]


@pytest.mark.parametrize("log_alpha, beta_hat", RADIAL_CASES)
def test_radial_log_det_is_the_jacobians(log_alpha, beta_hat):
    flow = _radial(_z(1, seed=3)[0], log_alpha, beta_hat)
    z = _z(seed=4)
    f, log_det = flow(z)
    # f itself: z + β/(α + r)·(z − z_0), with α = exp(log α), β = −α + log(1 + exp(β̂))
    alpha = torch.tensor(log_alpha, dtype=torch.float64).exp()
    beta = -alpha + torch.log1p(torch.exp(torch.tensor(beta_hat, dtype=torch.float64)))
    diff = z - flow.z0.detach()
    r = diff.norm(dim=1, keepdim=True)
    torch.testing.assert_close(f, z + beta / (alpha + r) * diff, rtol=1e-12, atol=1e-12)
    by_jacobian = _log_abs_det_by_jacobian(lambda v: flow(v)[0], z)
    torch.testing.assert_close(log_det, by_jacobian, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("log_alpha, beta_hat", [*RADIAL_CASES, (-30.0, -1e4), (30.0, 1e4)])
def test_radial_beta_is_at_least_minus_alpha(log_alpha, beta_hat):
    alpha, beta = _radial(torch.zeros(D, dtype=torch.float64), log_alpha, beta_hat).alpha_beta()
    assert alpha > 0
    assert beta >= -alpha  # exact: −α plus a non-negative softplus rounds to at least −α


def _made_jacobian(made: MADE, z: torch.Tensor, context=None) -> torch.Tensor:
    """∂out/∂z per row, (n o d d): entry [n, o, i, j] is ∂out_{o,i}/∂z_j."""
    rows = []
    for n, z_n in enumerate(z):
        c = None if context is None else context[n : n + 1]
        rows.append(jacobian(lambda v, c=c: made(v[None], c)[0], z_n))
    return torch.stack(rows)


@pytest.mark.parametrize("hidden", [(16,), (16, 12), (3, 8)])
def test_made_output_depends_only_on_earlier_inputs(hidden):
    torch.manual_seed(0)
    made = MADE(D, hidden, outputs=2, context=3).double()
    z = _z(n=32, seed=5)
    context = _z(n=32, d=3, seed=6)
    grads = _made_jacobian(made, z, context)  # (n o i j)
    later = torch.ones(D, D).triu().bool()  # j ≥ i
    assert torch.equal(grads[..., later], torch.zeros_like(grads[..., later]))
    if hidden[0] >= D - 1:  # every degree present: each output reads every earlier input
        reached = grads.abs().amax(0)[:, ~later]  # (o pairs j < i)
        assert (reached > 0).all()
    else:
        assert (grads.abs().amax(0)[:, ~later] > 0).any()


def test_made_context_reaches_every_output_but_the_first():
    torch.manual_seed(0)
    made = MADE(D, (16, 16), outputs=2, context=3).double()
    z, context = _z(n=16, seed=5), _z(n=16, d=3, seed=6)
    by_context = torch.stack(
        [
            jacobian(lambda c, z_n=z_n: made(z_n[None], c[None])[0], c)
            for z_n, c in zip(z, context, strict=True)
        ]
    )  # (n o i c)
    strength = by_context.abs().amax(dim=(0, 3))  # (o i)
    # output 1 reads no hidden unit (none has a degree below 1): a bias only, as in MADE
    assert torch.equal(strength[:, 0], torch.zeros(2, dtype=torch.float64))
    assert (strength[:, 1:] > 0).all()


def _randomise(module: torch.nn.Module, seed: int = 0, scale: float = 0.5) -> None:
    """Every parameter redrawn around its value, so that no test rests on the initialisation."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))


def test_iaf_step_log_det_is_the_jacobians():
    torch.manual_seed(0)
    step = IAFStep(D, (16, 16), context=3).double()
    _randomise(step)
    z, context = _z(seed=7), _z(d=3, seed=8)
    out, log_det = step(z, context)
    rows = [
        jacobian(lambda v, c=c: step(v[None], c[None])[0][0], z_n)
        for z_n, c in zip(z, context, strict=True)
    ]
    for J in rows:  # autoregressive: the Jacobian is lower triangular
        assert torch.equal(J.triu(1), torch.zeros_like(J))
    logabsdet = torch.stack([torch.linalg.slogdet(J).logabsdet for J in rows])
    torch.testing.assert_close(log_det, logabsdet, rtol=1e-10, atol=1e-10)
    # and the update itself: σ·z + (1 − σ)·m from the MADE's two outputs
    m, s = step.made(z, context).unbind(1)
    sigma = 1 / (1 + torch.exp(-s))
    torch.testing.assert_close(out, sigma * z + (1 - sigma) * m, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("blocks", [1, 2, 3])
def test_iaf_log_det_is_the_jacobians(blocks):
    torch.manual_seed(0)
    iaf = IAF(D, blocks, (12, 12), context=3).double()
    _randomise(iaf, seed=blocks)
    z, context = _z(seed=9), _z(d=3, seed=10)
    _, log_det = iaf(z, context)
    rows = [
        torch.linalg.slogdet(jacobian(lambda v, c=c: iaf(v[None], c[None])[0][0], z_n)).logabsdet
        for z_n, c in zip(z, context, strict=True)
    ]
    torch.testing.assert_close(log_det, torch.stack(rows), rtol=1e-10, atol=1e-10)


def test_iaf_reverses_the_order_between_steps():
    torch.manual_seed(0)
    iaf = IAF(D, 2, (12, 12), context=3).double()
    z, context = _z(seed=11), _z(d=3, seed=12)
    first, _ = iaf.steps[0](z, context)
    second, _ = iaf.steps[1](first.flip(-1), context)
    torch.testing.assert_close(iaf(z, context)[0], second, rtol=0, atol=0)


def _posteriors():
    torch.manual_seed(0)
    planar_radial = NormalizingFlowPosterior(6, D, ("planar", "radial", "planar")).double()
    iaf = IAFPosterior(6, D, 2, (12, 12)).double()
    _randomise(planar_radial, seed=1, scale=0.3)
    _randomise(iaf, seed=2, scale=0.3)
    return {"normalizing_flows": planar_radial, "iaf": iaf}


def _flow_steps(posterior, h_n: torch.Tensor):
    """Each flow of the posterior as a function (1 d) → (1 d), the context h_n (f) bound in."""
    if isinstance(posterior, NormalizingFlowPosterior):
        return [lambda v, f=f: f(v)[0] for f in posterior.flows]
    steps = []
    for t, step in enumerate(posterior.iaf.steps):
        steps.append(lambda v, s=step, flip=t > 0: s(v.flip(-1) if flip else v, h_n[None])[0])
    return steps


@pytest.mark.parametrize("kind", ["normalizing_flows", "iaf"])
def test_log_prob_at_its_samples_is_the_base_density_less_the_log_dets(kind):
    posterior = _posteriors()[kind]
    b, k = 4, 3
    h = _z(n=b, d=6, seed=13)
    q = posterior(h)
    assert isinstance(q, FlowGaussian)
    torch.manual_seed(5)
    z = q.rsample(k)
    log_q = q.log_prob(z)
    assert z.shape == (k, b, D) and log_q.shape == (k, b)

    # by hand: the same ε, z_0 = μ + σ·ε, the base density by torch.distributions, each flow's
    # log|det| by autograd's Jacobian, one sample at a time
    torch.manual_seed(5)
    eps = torch.randn(k, b, D, dtype=torch.float64)
    mu, log_var = posterior.mean(h), posterior.log_var(h)
    base = Independent(Normal(mu, torch.exp(0.5 * log_var)), 1)
    z0 = mu + torch.exp(0.5 * log_var) * eps
    expected_z = torch.empty_like(z0)
    expected = base.log_prob(z0)  # (k b)
    for i in range(k):
        for n in range(b):
            v = z0[i, n][None]
            for f in _flow_steps(posterior, h[n]):
                expected[i, n] -= torch.linalg.slogdet(
                    jacobian(lambda x, f=f: f(x[None])[0], v[0])
                ).logabsdet
                v = f(v)
            expected_z[i, n] = v[0]
    torch.testing.assert_close(z, expected_z, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(log_q, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", ["normalizing_flows", "iaf"])
def test_log_prob_of_any_other_tensor_raises(kind):
    posterior = _posteriors()[kind]
    q = posterior(_z(n=4, d=6, seed=14))
    with pytest.raises(ValueError) as before:
        q.log_prob(torch.zeros(1, 4, D, dtype=torch.float64))
    assert str(before.value) == MESSAGE
    z = q.rsample(2)
    for other in (z.clone(), z.detach(), q.rsample(2).clone()):
        with pytest.raises(ValueError) as err:
            q.log_prob(other)
        assert str(err.value) == MESSAGE
    # only the last sample is remembered
    with pytest.raises(ValueError):
        q.log_prob(z)


@pytest.mark.parametrize("kind", ["normalizing_flows", "iaf"])
def test_mean_is_the_flows_applied_to_the_base_mean(kind):
    posterior = _posteriors()[kind]
    h = _z(n=4, d=6, seed=15)
    mean = posterior(h).mean
    assert mean.shape == (4, D)
    for n in range(4):
        v = posterior.mean(h[n : n + 1])  # the base mean μ, (1 d)
        for f in _flow_steps(posterior, h[n]):
            v = f(v)
        torch.testing.assert_close(mean[n], v[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["vae_lin_nf", "vae_iaf"])
def test_monte_carlo_kl_of_a_flow_posterior_is_log_q_less_log_p(name, tiny_model):
    torch.manual_seed(0)
    model = tiny_model(name).double()
    x = torch.rand(6, 1, 6, 6, dtype=torch.float64)
    out = model(x)
    t = out.tensors
    log_p = Independent(Normal(torch.zeros_like(t["z"]), 1.0), 1).log_prob(t["z"])
    expected = (t["q"].log_prob(t["z"]) - log_p).mean()
    torch.testing.assert_close(out.terms["kl"], expected, rtol=1e-12, atol=1e-12)
    out.loss.backward()
    for name_, p in model.posterior.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name_


def test_the_one_sample_iwae_bound_of_a_flow_posterior_is_recon_plus_kl(tiny_model):
    torch.manual_seed(0)
    model = tiny_model(
        "iwae",
        "latent.samples=1",
        "latent.posterior.kind='normalizing_flows'",
        "terms.kl.kind='monte_carlo_kl'",
    ).double()
    out = model(torch.rand(6, 1, 6, 6, dtype=torch.float64))
    terms = out.terms
    torch.testing.assert_close(terms["bound"], terms["recon"] + terms["kl"], rtol=1e-12, atol=0)
