"""The importance-weighted bound of Burda, Grosse & Salakhutdinov 2016 (arXiv:1509.00519)."""

from __future__ import annotations

import math

import torch

from gaespec.components.registry import implements


def _bound_arguments(decl, wiring) -> dict:
    return {"reconstruction": wiring.term(decl.reconstruction)}


@implements("term", "iwae_bound", _bound_arguments)
class IWAEBoundTerm:
    """−log (1/K) Σ_k exp(log p(x|z_k) + log p(z_k) − log q(z_k|x)), averaged over the batch.

    log p(x|z) is −(a reconstruction term, made as the spec's named one), so the scale of that
    term carries over. Its gradient is the IWAE estimator: the softmax-weighted sum of the
    per-sample gradients.
    """

    def __init__(self, reconstruction):
        self.reconstruction = reconstruction

    def log_weights(self, x, x_hat, q, z, prior) -> torch.Tensor:
        """log w_k = log p(x|z_k) + log p(z_k) − log q(z_k|x), shape (k b)."""
        log_px = -self.reconstruction.per_sample(x, x_hat)
        return log_px + prior().log_prob(z) - q.log_prob(z)

    def __call__(self, x, x_hat, q, z, prior) -> torch.Tensor:
        log_w = self.log_weights(x, x_hat, q, z, prior)
        k = log_w.shape[0]
        return -(torch.logsumexp(log_w, dim=0) - math.log(k)).mean()
