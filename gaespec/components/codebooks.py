"""Vector quantisation of van den Oord, Vinyals & Kavukcuoglu 2017 (arXiv:1711.00937).

The codebook replaces each code z_e by its nearest codeword e and passes gradients straight
through (z_q = z_e + sg(e − z_e)); two terms train the codewords and commit the encoder. The EMA
codebook (the paper's appendix A.1; Razavi et al. 2019) learns its codewords as moving averages
of the codes assigned to them instead of by a loss. The perplexity says how many are in use.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gaespec.components.registry import ModuleRef, implements


@torch.no_grad()  # the choice is not differentiable: keep no graph of it, nor of the codebook
def nearest_codewords(z_e: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """The index of the nearest codeword (by squared distance) of each code: (n d), (K d) → (n)."""
    distances = (
        (z_e**2).sum(1, keepdim=True)  # (n 1)
        - 2 * z_e @ codebook.T
        + (codebook**2).sum(1)  # (k), against each code
    )
    return distances.argmin(dim=1)


def _codebook_arguments(decl, wiring) -> dict:
    return {
        "dim": wiring.width(decl.input),
        "num_embeddings": decl.num_embeddings,
        "groups": decl.groups,
        "restart_after": decl.restart_after,
    }


@torch.no_grad()
def idle_codewords(idle: torch.Tensor, indices: torch.Tensor, restart_after: int) -> torch.Tensor:
    """Counts one more training pass for each codeword the codes' indices (n) leave unchosen and
    zero for each they choose, in `idle` (K) in place; returns the mask (K) of the codewords idle
    for `restart_after` passes or more, whose counts it sets back to zero."""
    chosen = torch.zeros_like(idle, dtype=torch.bool)
    chosen[indices] = True
    idle.add_(1).masked_fill_(chosen, 0)
    dead = idle >= restart_after
    idle.masked_fill_(dead, 0)
    return dead


def random_codes(z_e: torch.Tensor, count: int) -> torch.Tensor:
    """`count` rows of the codes z_e (n d), drawn uniformly with replacement."""
    return z_e[torch.randint(len(z_e), (count,), device=z_e.device)]


@torch.no_grad()
def restart_codewords(codewords: torch.Tensor, dead: torch.Tensor, rows: torch.Tensor) -> None:
    """Moves the codewords (K d) of the mask `dead` (K) onto `rows` (K d) in place, the r-th dead
    one (by index) onto row r: no count of the dead ones goes to the host (a sync on a GPU)."""
    codewords.masked_scatter_(dead.unsqueeze(1), rows)  # (k 1) against (k d)


def parts(z_e: torch.Tensor, groups: int) -> torch.Tensor:
    """The codes (k b d) cut into `groups` parts, one per row: (k b g) rows of d/g."""
    return z_e.reshape(-1, z_e.shape[-1] // groups)  # (k b (g d)) -> ((k b g) d)


def whole(rows: torch.Tensor, like: torch.Tensor, groups: int) -> torch.Tensor:
    """Rows (k b g) ... put back together as the codes `like` (k b d) were cut."""
    k, b = like.shape[:2]
    if rows.dim() == 1:
        return rows.reshape(k, b, -1).squeeze(-1)  # ((k b g)) -> (k b g), g = 1: (k b)
    return rows.reshape(k, b, -1)  # ((k b g) d) -> (k b (g d))


@implements("module", "vq_codebook", _codebook_arguments)
class VQCodebook(nn.Module):
    """K codewords of size d/g: z_e (k b d), cut into g parts, → z_q (straight-through), codes e
    (k b d) and indices (k b, or k b g for g > 1).

    With `restart_after` = r > 0, each training pass counts for every codeword the passes since
    a code last chose it; one idle for r passes is restarted at a code of the batch drawn at
    random (the random restarts of Dhariwal et al. 2020, arXiv:2005.00341, by idle passes rather
    than a usage threshold). The counts start at r, so the first training pass also moves every
    codeword it leaves unchosen onto the data's codes: a data-dependent initialisation.
    """

    def __init__(self, dim: int, num_embeddings: int, groups: int = 1, restart_after: int = 0):
        super().__init__()
        self.num_embeddings, self.groups, self.restart_after = num_embeddings, groups, restart_after
        self.embeddings = nn.Embedding(num_embeddings, dim // groups)
        # the initialisation of Pythae's (sonnet-style) quantiser
        nn.init.uniform_(self.embeddings.weight, -1 / num_embeddings, 1 / num_embeddings)
        if restart_after:  # passes since a code last chose each codeword
            self.register_buffer("idle", torch.full((num_embeddings,), restart_after))

    def quantize(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Nearest codeword by squared distance: z_e (n d) → codes e (n d), indices (n)."""
        indices = nearest_codewords(z_e, self.embeddings.weight)
        return self.embeddings(indices), indices

    def forward(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z_q, codes, indices) for z_e (k b d): z_q = z_e + sg(e − z_e) carries the codes e
        (k b d) forward and the gradient back to z_e unchanged."""
        flat = parts(z_e, self.groups)
        codes, indices = self.quantize(flat)
        if self.training and self.restart_after:  # the codes keep the codewords they chose
            dead = idle_codewords(self.idle, indices, self.restart_after)
            # a draw for every codeword: the dead ones take the first draws, in index order
            restart_codewords(self.embeddings.weight, dead, random_codes(flat.detach(), len(dead)))
        codes = whole(codes, z_e, self.groups)
        return z_e + (codes - z_e).detach(), codes, whole(indices, z_e, self.groups)


def _ema_codebook_arguments(decl, wiring) -> dict:
    return {
        "dim": wiring.width(decl.input),
        "num_embeddings": decl.num_embeddings,
        "groups": decl.groups,
        "restart_after": decl.restart_after,
        "decay": decl.decay,
        "epsilon": decl.epsilon,
    }


@implements("module", "vq_codebook_ema", _ema_codebook_arguments)
class VQCodebookEMA(nn.Module):
    """K codewords of size d kept as buffers, learnt by exponential moving averages.

    Each forward pass in training mode, after choosing the codes, counts the n_i codes assigned
    to codeword i and sums them, then (van den Oord 2017, appendix A.1)
        N_i ← γ N_i + (1 − γ) n_i,   m_i ← γ m_i + (1 − γ) Σ_{z → i} z,   e_i = m_i / Ñ_i,
    with Ñ the Laplace-smoothed counts (N_i + ε) / (Σ N + K ε) · Σ N (as Sonnet and Pythae), so
    an unused codeword divides by no zero. As Pythae's: e and m start as two draws of U(±1/K) and N
    at 0, so the first update puts each codeword the batch uses near the mean of its codes and
    sends each one it leaves unused to about m / ε, out of reach until the decay of m brings it
    back (some hundreds of steps at γ = 0.99).

    `restart_after` restarts idle codewords as `VQCodebook`'s does, after the update: a restarted
    codeword's e and m are the code drawn for it and its N is 1, as if one code had chosen it.
    """

    def __init__(
        self,
        dim: int,
        num_embeddings: int,
        groups: int = 1,
        restart_after: int = 0,
        decay: float = 0.99,
        epsilon: float = 1e-5,
    ):
        super().__init__()
        self.num_embeddings, self.decay, self.epsilon = num_embeddings, decay, epsilon
        self.groups, self.restart_after = groups, restart_after
        dim = dim // groups
        # Pythae's initialisation: e (K d) and m (K d) two draws of U(±1/K), N (K) zero
        bound = 1 / num_embeddings
        self.register_buffer("embeddings", torch.empty(num_embeddings, dim).uniform_(-bound, bound))
        self.register_buffer("cluster_size", torch.zeros(num_embeddings))
        self.register_buffer(
            "cluster_sum", torch.empty(num_embeddings, dim).uniform_(-bound, bound)
        )
        if restart_after:  # passes since a code last chose each codeword
            self.register_buffer("idle", torch.full((num_embeddings,), restart_after))

    @torch.no_grad()
    def update(self, z_e: torch.Tensor, indices: torch.Tensor) -> None:
        """One moving-average step from the codes z_e (n d) and their codewords' indices (n)."""
        assigned = F.one_hot(indices, self.num_embeddings).to(z_e.dtype)  # (n K)
        counts = assigned.sum(0)  # (n K) -> (K)
        sums = assigned.T @ z_e
        self.cluster_size.mul_(self.decay).add_((1 - self.decay) * counts)
        self.cluster_sum.mul_(self.decay).add_((1 - self.decay) * sums)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.epsilon) / (total + self.num_embeddings * self.epsilon)
        self.embeddings.copy_(self.cluster_sum / (smoothed * total).unsqueeze(1))  # (K d) / (K 1)

    @torch.no_grad()
    def restart(self, z_e: torch.Tensor, indices: torch.Tensor) -> None:
        """Moves each codeword idle for `restart_after` passes onto a random code of z_e (n d)."""
        dead = idle_codewords(self.idle, indices, self.restart_after)
        drawn = random_codes(z_e, len(dead))  # the dead ones take the first, in index order
        restart_codewords(self.embeddings, dead, drawn)
        restart_codewords(self.cluster_sum, dead, drawn)
        self.cluster_size.masked_fill_(dead, 1.0)

    def forward(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z_q, codes, indices) for z_e (k b d) as the gradient-trained codebook gives them,
        the codes from the codewords before this batch's update (which runs in training mode)."""
        flat = parts(z_e, self.groups)
        indices = nearest_codewords(flat, self.embeddings)
        codes = self.embeddings[indices]  # a copy: the update below leaves it as it is
        if self.training:
            self.update(flat.detach(), indices)
            if self.restart_after:
                self.restart(flat.detach(), indices)
        codes = whole(codes, z_e, self.groups)
        return z_e + (codes - z_e).detach(), codes, whole(indices, z_e, self.groups)


@implements("term", "codebook_loss")
class CodebookLossTerm:
    """‖sg(z_e) − e‖², summed over latent dims, averaged over the batch (and samples)."""

    def __call__(self, z_e: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return ((z_e.detach() - codes) ** 2).sum(-1).mean()  # summed over d: (k b d) -> (k b)


@implements("term", "commitment_loss")
class CommitmentLossTerm:
    """‖z_e − sg(e)‖², summed over latent dims, averaged over the batch (and samples)."""

    def __call__(self, z_e: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return ((z_e - codes.detach()) ** 2).sum(-1).mean()  # summed over d: (k b d) -> (k b)


def _perplexity_arguments(decl, wiring) -> dict:
    return {"codebook": ModuleRef(decl.codebook)}


@implements("term", "codebook_perplexity", _perplexity_arguments)
class CodebookPerplexityTerm:
    """exp(H(p)), p the share of the batch's codes (k b) each of the `codebook`'s K codewords
    takes: the number in use, from 1 (one for every code) to min(K, k·b) (each as often); no
    gradient."""

    def __init__(self, codebook: nn.Module):
        self.codebook = codebook

    def __call__(self, indices: torch.Tensor) -> torch.Tensor:
        # counted over all K codewords, not the ones in use (torch.unique): no size to sync on
        indices = indices.flatten()  # (...) -> ((...))
        dtype = torch.get_default_dtype()
        counts = torch.zeros(self.codebook.num_embeddings, dtype=dtype, device=indices.device)
        counts.index_add_(0, indices, torch.ones_like(indices, dtype=dtype))
        return torch.special.entr(counts / len(indices)).sum().exp()  # entr(p) = −p log p
