"""Declarations of the VQ extras: the EMA codebook and the codebook's perplexity."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from gaespec.spec.declarations.modules import VQCodebook
from gaespec.spec.vocabulary import Declaration, Identifier, Read, declare


@declare("module")
class VQCodebookEMA(VQCodebook):
    """A VQ codebook whose codewords are moving averages of the codes assigned to them (van den
    Oord et al. 2017, appendix A.1; Razavi et al. 2019, arXiv:1906.00446): buffers, no
    parameters, updated by every pass through it in training mode (a decode too: sample in eval
    mode); no codebook loss trains them.

    Attributes:
        input, output, num_embeddings, groups, restart_after: as `vq_codebook`'s.
        decay: γ of N_i ← γN_i + (1 − γ)n_i and m_i ← γm_i + (1 − γ)Σz (the paper's 0.99).
        epsilon: the Laplace smoothing of the counts N (Sonnet's and Pythae's 1e-5).
    """

    kind: Literal["vq_codebook_ema"] = "vq_codebook_ema"  # type: ignore[assignment]
    decay: float = Field(0.99, ge=0, lt=1)
    epsilon: float = Field(1e-5, gt=0)
    summary: ClassVar[str] = "VQ codebook learnt by moving averages of its codes (buffers)"
    has_parameters: ClassVar[bool] = False


@declare("term")
class CodebookPerplexity(Declaration):
    """exp of the entropy of the batch's codeword usage: how many codewords are in use, from 1 to
    min(K, the batch's codes). A metric for the log (no gradient); each batch's own, so its mean
    over an epoch of batches of 64 is below the perplexity of the whole split at once."""

    kind: Literal["codebook_perplexity"] = "codebook_perplexity"
    codebook: Identifier = "codebook"
    summary: ClassVar[str] = "codebook perplexity exp(H) of the batch's codeword usage (a metric)"

    def reads(self, modules):
        return (Read(f"{self.codebook}.indices", "codebook", detached=True),)

    def uses(self, modules):
        return (Read(self.codebook, "codebook", detached=True, expects="codebook", argument=False),)
