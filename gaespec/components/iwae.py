"""The importance-weighted bound of Burda, Grosse & Salakhutdinov 2016 (arXiv:1509.00519)."""

from __future__ import annotations

import math

import torch

from gaespec.components.registry import implements


@implements("term", "iwae_bound")
class IWAEBoundTerm:
    """−log (1/K) Σ_k exp(log p(x|z_k) + log p(z_k) − log q(z_k|x)), averaged over the batch.

    log p(x|z) is −(the spec's named reconstruction term, for each sample): the program computes
    those values (k b) once and gives them to this term and to the reconstruction term (their
    mean), so its scale carries over. The gradient is the IWAE estimator: the softmax-weighted
    sum of the per-sample gradients.
    """

    def log_weights(self, recon, q, z, prior) -> torch.Tensor:
        """log w_k = log p(x|z_k) + log p(z_k) − log q(z_k|x), shape (k b), from the
        reconstruction term's values `recon` (k b)."""
        return -recon + prior().log_prob(z) - q.log_prob(z)

    def __call__(self, recon, q, z, prior) -> torch.Tensor:
        log_w = self.log_weights(recon, q, z, prior)
        k = log_w.shape[0]
        return -(torch.logsumexp(log_w, dim=0) - math.log(k)).mean()
