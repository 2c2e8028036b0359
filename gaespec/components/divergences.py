"""Divergence terms. KL(q ‖ p) dispatches on the pair of distribution types (as pyro's kl)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from gaespec.components.distributions import DiagGaussian, StandardNormalDistribution
from gaespec.components.registry import implements
from gaespec.errors import SpecError

_KL: dict[tuple[type, type], Callable] = {}


def register_kl(q_type: type, p_type: type):
    """Decorator: the analytic KL(q ‖ p) for a pair of distribution types, per sample (b)."""

    def add(fn):
        if (q_type, p_type) in _KL:
            raise ValueError(f"KL({q_type.__name__} ‖ {p_type.__name__}) is registered twice")
        _KL[(q_type, p_type)] = fn
        return fn

    return add


def kl_divergence(q, p) -> torch.Tensor:
    """Analytic KL(q ‖ p) summed over latent dims: shape (b)."""
    fn = _KL.get((type(q), type(p)))
    if fn is None:
        raise SpecError(
            f"no analytic KL between {type(q).__name__} and {type(p).__name__}",
            key="terms",
            fix="use a posterior and prior with a closed-form KL (diag_gaussian, standard_normal)",
        )
    return fn(q, p)


@register_kl(DiagGaussian, StandardNormalDistribution)
def _kl_diag_gaussian_standard_normal(q: DiagGaussian, p) -> torch.Tensor:
    # −½ Σ_j (1 + log σ²_j − μ²_j − σ²_j)
    return -0.5 * (1 + q.log_var - q.mean**2 - q.log_var.exp()).sum(-1)


@implements("term", "kl")
class KLTerm:
    """KL(q(z|x) ‖ p(z)), analytic, averaged over the batch (validation checks the pair)."""

    def __init__(self, decl, name: str, context):
        self.name = name

    def __call__(self, q, prior) -> torch.Tensor:
        return kl_divergence(q, prior()).mean()
