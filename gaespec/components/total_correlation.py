"""Total correlation of the aggregate posterior q(z), two ways.

β-TC-VAE (Chen et al. 2018, arXiv:1802.04942) splits the KL term into index-code mutual
information, total correlation and dimension-wise KL, with q(z) and q(z_d) estimated on the
batch by minibatch weighted sampling (MWS). FactorVAE (Kim & Mnih 2018, arXiv:1802.05983)
estimates the total correlation with a critic that tells codes from codes permuted dimension
by dimension (the density-ratio trick).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gaespec.components.distributions import DiagGaussian
from gaespec.components.registry import implements


def _minibatch_weighted_sampling(q, z: torch.Tensor, dataset_size: int | None):
    """The estimate of `minibatch_weighted_sampling`, computed afresh."""
    m = z.shape[1]
    n = m if dataset_size is None else dataset_size
    # log q(z_{i,d} | x_j): every code i under every posterior j of the batch, dim by dim
    z_i = z.unsqueeze(2)  # (k i 1 d)
    q_j = DiagGaussian(q.mean, q.log_var)  # (j d), broadcast against z_i: (k i j d)
    log_q_ijd = q_j.log_prob_per_dim(z_i)
    log_nm = math.log(n * m)
    log_qz = torch.logsumexp(log_q_ijd.sum(-1), dim=2) - log_nm  # over d, then j: (k i)
    log_qz_marginals = (torch.logsumexp(log_q_ijd, dim=2) - log_nm).sum(-1)  # (k i d) -> (k i)
    return q.log_prob(z), log_qz, log_qz_marginals


def minibatch_weighted_sampling(q, z: torch.Tensor, dataset_size: int | None):
    """log q(z|x), log q(z) and Σ_d log q(z_d) at every code z (k b d), each (k b), by MWS:
    log q(z_i) ≈ logsumexp_j log q(z_i|x_j) − log(N·M), and so each q(z_{i,d}), over the M
    posteriors of the batch; N is the training set's size (M when it is None).

    Computed once per posterior q (a forward's own object) for the same codes, N and grad mode:
    the terms that read them (MI, TC, dimension-wise KL) share the (k b b d) estimate and its
    graph, which q keeps for as long as it lives.
    """
    grad = torch.is_grad_enabled()
    kept = vars(q).get("_minibatch_weighted_sampling")  # (z, N, grad mode, estimate)
    if kept is None or kept[0] is not z or kept[1:3] != (dataset_size, grad):
        kept = (z, dataset_size, grad, _minibatch_weighted_sampling(q, z, dataset_size))
        q._minibatch_weighted_sampling = kept
    return kept[3]


@implements("term", "index_code_mi")
class IndexCodeMITerm:
    """I(z; n) ≈ log q(z|x) − log q(z), averaged over the codes (MWS, Chen et al. 2018).

    MWS's log q(z) is the batch mixture's log (1/M)·Σ_j q(z|x_j) minus exactly log N: this
    term carries +log N, the total correlation +(d − 1)·log N, the dimension-wise KL −d·log N,
    constants no gradient sees that cancel in the sum, log q(z|x) − log p(z).
    `dataset_size` is None outside the trainer: then N is the batch size M.
    """

    def __call__(self, q, z: torch.Tensor, dataset_size: int | None) -> torch.Tensor:
        log_qz_x, log_qz, _ = minibatch_weighted_sampling(q, z, dataset_size)
        return (log_qz_x - log_qz).mean()


@implements("term", "total_correlation")
class TotalCorrelationTerm:
    """KL(q(z) ‖ Π_d q(z_d)) ≈ log q(z) − Σ_d log q(z_d), averaged over the codes (MWS).

    MWS adds exactly (d − 1)·log N to the batch mixture's value, a constant no gradient sees:
    codes whose mixture factorises give that, not 0. `dataset_size` is None outside the
    trainer: then N is the batch size M.
    """

    def __call__(self, q, z: torch.Tensor, dataset_size: int | None) -> torch.Tensor:
        _, log_qz, log_qz_marginals = minibatch_weighted_sampling(q, z, dataset_size)
        return (log_qz - log_qz_marginals).mean()


@implements("term", "dimension_wise_kl")
class DimensionWiseKLTerm:
    """Σ_d KL(q(z_d) ‖ p(z_d)) ≈ Σ_d log q(z_d) − log p(z), averaged over the codes (MWS).

    MWS adds exactly −d·log N to the batch mixture's value, a constant no gradient sees.
    `dataset_size` is None outside the trainer: then N is the batch size M.
    """

    def __call__(self, q, z: torch.Tensor, dataset_size: int | None, prior) -> torch.Tensor:
        _, _, log_qz_marginals = minibatch_weighted_sampling(q, z, dataset_size)
        return (log_qz_marginals - prior().log_prob(z)).mean()


def _critic_arguments(decl, wiring) -> dict:
    return {"dim": wiring.width(decl.input), "hidden": tuple(decl.hidden)}


@implements("module", "density_ratio_critic", _critic_arguments)
class DensityRatioCritic(nn.Module):
    """Linear + LeakyReLU(0.2) per hidden width, then Linear(→2): logits (n d) → (n 2), class 0
    for codes of q(z), class 1 for samples of Π_d q(z_d) (Kim & Mnih 2018)."""

    def __init__(self, dim: int, hidden: tuple[int, ...]):
        super().__init__()
        widths = (dim, *hidden)
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        layers.append(nn.Linear(widths[-1], 2))
        self.layers = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z)


def permute_dims(z: torch.Tensor) -> torch.Tensor:
    """Each column of z (n d) permuted independently across the n rows (Kim & Mnih's Algorithm
    2): the same marginals, the dependence between dimensions broken."""
    order = torch.argsort(torch.rand(z.shape, device=z.device), dim=0)
    return torch.gather(z, 0, order)


@implements("term", "density_ratio_tc")
class DensityRatioTCTerm:
    """TC ≈ log D(z)/(1 − D(z)) = logit₀ − logit₁, averaged over the codes z (k b d)."""

    def __call__(self, z: torch.Tensor, critic: nn.Module) -> torch.Tensor:
        logits = critic(z.flatten(0, 1))  # (k b d) -> ((k b) d)
        return (logits[:, 0] - logits[:, 1]).mean()


@implements("term", "permuted_code_ce")
class PermutedCodeCETerm:
    """½[CE(D(sg z), 0) + CE(D(z̃), 1)]: z̃ is the batch's own codes (k b d, all K·B of them),
    detached and permuted dimension by dimension across them."""

    def __call__(self, z: torch.Tensor, critic: nn.Module) -> torch.Tensor:
        z = z.flatten(0, 1).detach()  # (k b d) -> ((k b) d)
        z_permuted = permute_dims(z)
        codes = torch.zeros(z.shape[0], dtype=torch.long, device=z.device)
        return 0.5 * (
            F.cross_entropy(critic(z), codes) + F.cross_entropy(critic(z_permuted), codes + 1)
        )
