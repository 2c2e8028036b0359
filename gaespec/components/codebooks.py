"""Vector quantisation of van den Oord, Vinyals & Kavukcuoglu 2017 (arXiv:1711.00937).

The codebook replaces each code z_e by its nearest codeword e and passes gradients straight
through (z_q = z_e + sg(e − z_e)); two terms train the codewords and commit the encoder.
"""

from __future__ import annotations

import torch
from einops import rearrange, reduce
from torch import nn

from gaespec.components.registry import implements


def _codebook_arguments(decl, wiring) -> dict:
    return {"dim": wiring.width(decl.input), "num_embeddings": decl.num_embeddings}


@implements("module", "vq_codebook", _codebook_arguments)
class VQCodebook(nn.Module):
    """K codewords of size d: z_e (k b d) → z_q (straight-through), codes e and their indices."""

    def __init__(self, dim: int, num_embeddings: int):
        super().__init__()
        self.embeddings = nn.Embedding(num_embeddings, dim)
        # the initialisation of Pythae's (sonnet-style) quantiser
        nn.init.uniform_(self.embeddings.weight, -1 / num_embeddings, 1 / num_embeddings)

    def quantize(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Nearest codeword by squared distance: z_e (n d) → codes e (n d), indices (n)."""
        codebook = self.embeddings.weight
        distances = (
            reduce(z_e**2, "n d -> n 1", "sum")
            - 2 * z_e @ codebook.T
            + reduce(codebook**2, "k d -> 1 k", "sum")
        )
        indices = distances.argmin(dim=1)
        return self.embeddings(indices), indices

    def forward(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z_q, codes, indices) for z_e (k b d): z_q = z_e + sg(e − z_e) carries the codes e
        (k b d) forward and the gradient back to z_e unchanged; indices are (k b)."""
        k = z_e.shape[0]
        codes, indices = self.quantize(rearrange(z_e, "k b d -> (k b) d"))
        codes = rearrange(codes, "(k b) d -> k b d", k=k)
        return z_e + (codes - z_e).detach(), codes, rearrange(indices, "(k b) -> k b", k=k)


@implements("term", "codebook_loss")
class CodebookLossTerm:
    """‖sg(z_e) − e‖², summed over latent dims, averaged over the batch (and samples)."""

    def __call__(self, z_e: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return reduce((z_e.detach() - codes) ** 2, "k b d -> k b", "sum").mean()


@implements("term", "commitment_loss")
class CommitmentLossTerm:
    """‖z_e − sg(e)‖², summed over latent dims, averaged over the batch (and samples)."""

    def __call__(self, z_e: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return reduce((z_e - codes.detach()) ** 2, "k b d -> k b", "sum").mean()
