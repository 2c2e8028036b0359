"""Normalizing-flow posteriors: planar and radial flows (Rezende & Mohamed 2015, arXiv:1505.05770)
and inverse autoregressive flow (Kingma et al. 2016, arXiv:1606.04934) built on MADE (Germain et
al. 2015, arXiv:1502.03509).

Every flow maps a batch of codes z (n d) to (f(z) (n d), log|det ∂f/∂z| (n)). A flow posterior
draws z_0 from its diagonal-Gaussian heads and pushes it through its flows; its density
log q(z_K|x) = log N(z_0; μ, σ²) − Σ_k log|det ∂f_k/∂z| is known at the samples it draws.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from gaespec.components.distributions import DiagGaussian
from gaespec.components.posteriors import DiagGaussianPosterior
from gaespec.components.registry import implements


class PlanarFlow(nn.Module):
    """f(z) = z + û·tanh(wᵀz + b), with û = u + (m(wᵀu) − wᵀu)·w/‖w‖², m(a) = −1 + softplus(a),
    so that wᵀû = m(wᵀu) > −1 and f is invertible for any raw u, w (the paper's appendix A.1)."""

    def __init__(self, dim: int):
        super().__init__()
        bound = dim**-0.5  # the scale of nn.Linear's initialisation: wᵀz starts off O(1)
        self.u = nn.Parameter(torch.empty(dim).uniform_(-bound, bound))
        self.w = nn.Parameter(torch.empty(dim).uniform_(-bound, bound))
        self.b = nn.Parameter(torch.zeros(()))

    def u_hat(self) -> torch.Tensor:
        """û (d): u moved along w so that wᵀû = m(wᵀu) = −1 + softplus(wᵀu) ≥ −1."""
        wu = self.w @ self.u
        return self.u + (F.softplus(wu) - 1 - wu) * self.w / (self.w @ self.w)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(f(z), log|det ∂f/∂z|) for z (n d): shapes (n d) and (n)."""
        t = torch.tanh(z @ self.w + self.b)  # (n)
        f = z + t[:, None] * self.u_hat()
        # det = 1 + h'·ûᵀw with h' = 1 − t² and ûᵀw = −1 + softplus(wᵀu), rewritten as
        # t² + (1 − t²)·softplus(wᵀu): two non-negative parts, no cancellation near det = 0
        det = t**2 + (1 - t**2) * F.softplus(self.w @ self.u)
        return f, torch.log(det)


class RadialFlow(nn.Module):
    """f(z) = z + β·h(α, r)·(z − z_0), r = ‖z − z_0‖, h = 1/(α + r), with α = exp(log α) > 0 and
    β = −α + softplus(β̂) ≥ −α, so that f is invertible (the paper's appendix A.2)."""

    def __init__(self, dim: int):
        super().__init__()
        self.z0 = nn.Parameter(torch.randn(dim))  # a point of the prior's bulk
        self.log_alpha = nn.Parameter(torch.zeros(()))
        self.beta_hat = nn.Parameter(torch.zeros(()))

    def alpha_beta(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(α, β): α > 0 and β ≥ −α for any raw parameters."""
        alpha = self.log_alpha.exp()
        return alpha, -alpha + F.softplus(self.beta_hat)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(f(z), log|det ∂f/∂z|) for z (n d): shapes (n d) and (n)."""
        alpha, beta = self.alpha_beta()
        diff = z - self.z0
        r = torch.linalg.vector_norm(diff, dim=-1)  # (n)
        f = z + (beta / (alpha + r))[:, None] * diff
        # det = (1 + βh)^(d−1)·(1 + βh + βh'r), h' = −1/(α + r)²; with β = −α + s, s = softplus(β̂):
        # 1 + βh = (r + s)/(α + r) and 1 + βh + βh'r = (r(2α + r) + αs)/(α + r)², sums of
        # non-negative parts (no cancellation as β → −α)
        s = F.softplus(self.beta_hat)
        log_first = torch.log(r + s) - torch.log(alpha + r)
        log_last = torch.log(r * (2 * alpha + r) + alpha * s) - 2 * torch.log(alpha + r)
        return f, (z.shape[-1] - 1) * log_first + log_last


# the flows a `normalizing_flows` posterior lists, by name
PLANAR_RADIAL = {"planar": PlanarFlow, "radial": RadialFlow}


def made_degrees(dim: int, hidden: tuple[int, ...]) -> list[torch.Tensor]:
    """MADE's degrees: inputs 1…d, then each hidden layer's units 1…d−1 in turn (sequential)."""
    return [torch.arange(1, dim + 1)] + [torch.arange(h) % max(dim - 1, 1) + 1 for h in hidden]


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask (out in)."""

    def __init__(self, mask: torch.Tensor):
        super().__init__(mask.shape[1], mask.shape[0])
        # built from the sizes alone: not saved with the weights
        self.register_buffer("mask", mask.float(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (n in) → (n out), through the masked weight."""
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Masked autoencoder (Germain et al. 2015): `outputs` vectors (n o d) from z (n d) where
    output i depends only on inputs before i; an optional context (n c) feeds every unit of the
    first hidden layer (so, through it, every hidden unit) and leaves the order intact."""

    def __init__(self, dim: int, hidden: tuple[int, ...], outputs: int = 1, context: int = 0):
        super().__init__()
        degrees = made_degrees(dim, hidden)
        self.outputs = outputs
        # a hidden unit of degree k sees inputs 1…k; an output of degree i sees units below i
        self.hidden = nn.ModuleList(
            MaskedLinear(later[:, None] >= earlier[None, :])
            for earlier, later in zip(degrees, degrees[1:], strict=False)
        )
        output_degrees = repeat(degrees[0], "d -> (o d)", o=outputs)
        self.output = MaskedLinear(output_degrees[:, None] > degrees[-1][None, :])
        self.context = nn.Linear(context, hidden[0]) if context else None

    def forward(self, z: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """(n o d) for z (n d) and the context (n c) where the MADE has one."""
        a = self.hidden[0](z)
        if self.context is not None:
            a = a + self.context(context)
        a = F.relu(a)  # ReLU, as Pythae's MADE (the IAF paper leaves the nonlinearity open)
        for layer in self.hidden[1:]:
            a = F.relu(layer(a))
        return rearrange(self.output(a), "n (o d) -> n o d", o=self.outputs)


class IAFStep(nn.Module):
    """One IAF step (Kingma et al. 2016, algorithm 1): m, s = MADE(z, h); σ = sigmoid(s);
    z ← σ·z + (1 − σ)·m, with log|det| = Σ log σ (the Jacobian is triangular)."""

    def __init__(self, dim: int, hidden: tuple[int, ...], context: int = 0):
        super().__init__()
        self.made = MADE(dim, hidden, outputs=2, context=context)
        # the paper starts s near +1 or +2 so that σ ≈ 1 and each step begins close to identity
        with torch.no_grad():
            self.made.output.bias[dim:].fill_(1.0)

    def forward(
        self, z: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(z', log|det ∂z'/∂z|) for z (n d) and the context (n c): shapes (n d) and (n)."""
        m, s = self.made(z, context).unbind(1)
        sigma = torch.sigmoid(s)
        return sigma * z + (1 - sigma) * m, F.logsigmoid(s).sum(-1)


class IAF(nn.Module):
    """`blocks` IAF steps, the order of the dims reversed between steps (Kingma et al. 2016), so
    that each dimension is transformed given every other one somewhere in the chain."""

    def __init__(self, dim: int, blocks: int, hidden: tuple[int, ...], context: int = 0):
        super().__init__()
        self.steps = nn.ModuleList(IAFStep(dim, hidden, context) for _ in range(blocks))

    def forward(
        self, z: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_T, Σ_t log|det|) for z (n d) and the context (n c): shapes (n d) and (n)."""
        log_det = z.new_zeros(z.shape[0])
        for t, step in enumerate(self.steps):
            if t:
                z = z.flip(-1)
            z, step_log_det = step(z, context)
            log_det = log_det + step_log_det
        return z, log_det


@dataclass
class FlowGaussian:
    """q(z_K|x): z_0 ~ `base` (b d), then z_K = flow(z_0, context) with its log-determinant.

    The density is log N(z_0; μ, σ²) − Σ log|det|, known only at the posterior's own samples
    (planar flows have no closed-form inverse): rsample remembers the last sample it drew and
    its density, and log_prob gives that density for that very tensor.

    Attributes:
        base: the diagonal Gaussian of z_0. flow: (z (n d), context (n c) or None) → (z_K (n d),
        log|det| (n)). context: what the flow is conditioned on (b c), or None.
    """

    base: DiagGaussian
    flow: Callable
    context: torch.Tensor | None = None
    _sample: torch.Tensor | None = field(default=None, init=False, repr=False)
    _log_prob: torch.Tensor | None = field(default=None, init=False, repr=False)

    def rsample(self, k: int = 1) -> torch.Tensor:
        """K reparameterised samples z_K (k b d); their log-density is remembered."""
        z0 = self.base.rsample(k)  # (k b d)
        context = self.context
        if context is not None:
            context = repeat(context, "b c -> (k b) c", k=k)
        z, log_det = self.flow(rearrange(z0, "k b d -> (k b) d"), context)
        self._sample = rearrange(z, "(k b) d -> k b d", k=k)
        self._log_prob = self.base.log_prob(z0) - rearrange(log_det, "(k b) -> k b", k=k)
        return self._sample

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z|x) (k b) for z the tensor the last rsample returned; any other z raises."""
        if self._sample is None or z is not self._sample:
            raise ValueError(
                "a flow posterior's density is known only at its own samples: pass the tensor "
                "its last rsample returned (planar flows have no closed-form inverse)"
            )
        return self._log_prob

    @property
    def mean(self) -> torch.Tensor:
        """The flows applied to the base mean μ (b d): the image of the base mean, the code used
        for embeddings and reconstructions, not E[z_K]."""
        return self.flow(self.base.mean, self.context)[0]


def _flows_arguments(decl, wiring) -> dict:
    return {"features": wiring.features, "latent_dim": wiring.latent_dim, "flows": decl.flows}


@implements("posterior", "normalizing_flows", _flows_arguments)
class NormalizingFlowPosterior(DiagGaussianPosterior):
    """The diagonal-Gaussian heads, then planar and radial flows in the listed order."""

    distribution: ClassVar[type] = FlowGaussian

    def __init__(self, features: int, latent_dim: int, flows: tuple[str, ...]):
        super().__init__(features, latent_dim)
        self.flows = nn.ModuleList(PLANAR_RADIAL[name](latent_dim) for name in flows)

    def transform(
        self, z: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(f_K ∘ … ∘ f_1(z), Σ_k log|det|) for z (n d); the flows take no context."""
        log_det = z.new_zeros(z.shape[0])
        for flow in self.flows:
            z, flow_log_det = flow(z)
            log_det = log_det + flow_log_det
        return z, log_det

    def forward(self, h: torch.Tensor) -> FlowGaussian:
        """q(z_K|x) for the encoder's features h (b f)."""
        return FlowGaussian(super().forward(h), self.transform)


def _iaf_arguments(decl, wiring) -> dict:
    return {
        "features": wiring.features,
        "latent_dim": wiring.latent_dim,
        "blocks": decl.blocks,
        "hidden": decl.hidden,
    }


@implements("posterior", "iaf", _iaf_arguments)
class IAFPosterior(DiagGaussianPosterior):
    """The diagonal-Gaussian heads, then an IAF whose MADEs are conditioned on the encoder's
    features h (the paper's context)."""

    distribution: ClassVar[type] = FlowGaussian

    def __init__(self, features: int, latent_dim: int, blocks: int, hidden: tuple[int, ...]):
        super().__init__(features, latent_dim)
        self.iaf = IAF(latent_dim, blocks, hidden, context=features)

    def forward(self, h: torch.Tensor) -> FlowGaussian:
        """q(z_T|x) for the encoder's features h (b f), which are also the flow's context."""
        return FlowGaussian(super().forward(h), self.iaf, h)
