"""Vector quantisation of van den Oord, Vinyals & Kavukcuoglu 2017 (arXiv:1711.00937).

The codebook replaces each code z_e by its nearest codeword e and passes gradients straight
through (z_q = z_e + sg(e − z_e)); two terms train the codewords and commit the encoder.
"""

from __future__ import annotations

import torch
from einops import rearrange, reduce
from torch import nn

from gaespec.components.registry import implements


@implements("module", "vq_codebook")
class VQCodebook(nn.Module):
    """K codewords of size d; writes `output` (straight-through), `<name>.codes` and `.indices`."""

    def __init__(self, decl, name: str, dim: int):
        super().__init__()
        self.name, self.input, self.output = name, decl.input, decl.output
        k = decl.num_embeddings
        self.embeddings = nn.Embedding(k, dim)
        # the initialisation of Pythae's (sonnet-style) quantiser
        nn.init.uniform_(self.embeddings.weight, -1 / k, 1 / k)

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

    def forward(self, t: dict) -> dict[str, torch.Tensor]:
        z_e = t[self.input]
        k = z_e.shape[0]
        codes, indices = self.quantize(rearrange(z_e, "k b d -> (k b) d"))
        codes = rearrange(codes, "(k b) d -> k b d", k=k)
        return {
            self.output: z_e + (codes - z_e).detach(),
            f"{self.name}.codes": codes,
            f"{self.name}.indices": rearrange(indices, "(k b) -> k b", k=k),
        }


class _VQTerm:
    def __init__(self, decl, name: str, context):
        self.name = name
        self.codebook = decl.codebook
        self.input = context.spec.modules[decl.codebook].input


@implements("term", "codebook_loss")
class CodebookLossTerm(_VQTerm):
    """‖sg(z_e) − e‖², summed over latent dims, averaged over the batch (and samples)."""

    def __call__(self, t: dict, model) -> torch.Tensor:
        codes = t[f"{self.codebook}.codes"]
        return reduce((t[self.input].detach() - codes) ** 2, "k b d -> k b", "sum").mean()


@implements("term", "commitment_loss")
class CommitmentLossTerm(_VQTerm):
    """‖z_e − sg(e)‖², summed over latent dims, averaged over the batch (and samples)."""

    def __call__(self, t: dict, model) -> torch.Tensor:
        codes = t[f"{self.codebook}.codes"].detach()
        return reduce((t[self.input] - codes) ** 2, "k b d -> k b", "sum").mean()
