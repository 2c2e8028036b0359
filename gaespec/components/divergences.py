"""Divergence terms: KL(q ‖ p) in closed form, chosen by the pair of posterior and prior kinds."""

from __future__ import annotations

import torch

from gaespec.components.distributions import DiagGaussian, StandardNormalDistribution
from gaespec.components.registry import implements


def kl_diag_gaussian_standard_normal(q: DiagGaussian, p: StandardNormalDistribution):
    """KL(N(μ, diag σ²) ‖ N(0, I)), summed over latent dims: (b d) → (b)."""
    # −½ Σ_j (1 + log σ²_j − μ²_j − σ²_j)
    return -0.5 * (1 + q.log_var - q.mean**2 - q.log_var.exp()).sum(-1)


# the closed forms by (posterior kind, prior kind); the declaration of the `kl` term names the
# same pairs in KL.ANALYTIC, which validation checks (a test holds the two together)
ANALYTIC_KL = {("diag_gaussian", "standard_normal"): kl_diag_gaussian_standard_normal}


def _kl_arguments(decl, wiring) -> dict:
    spec = wiring.spec
    return {"divergence": ANALYTIC_KL[(spec.latent.posterior.kind, spec.prior.kind)]}


@implements("term", "kl", _kl_arguments)
class KLTerm:
    """KL(q(z|x) ‖ p(z)) by `divergence`, the closed form for the pair, averaged over the batch."""

    def __init__(self, divergence):
        self.divergence = divergence

    def __call__(self, q, prior) -> torch.Tensor:
        return self.divergence(q, prior()).mean()


@implements("term", "monte_carlo_kl")
class MonteCarloKLTerm:
    """log q(z|x) − log p(z) at the posterior's samples z (k b d), averaged over samples and
    batch: an unbiased estimate of KL(q ‖ p) whose gradient is the reparameterised one."""

    def __call__(self, q, z: torch.Tensor, prior) -> torch.Tensor:
        return (q.log_prob(z) - prior().log_prob(z)).mean()
