"""The MAF sampler: a masked autoregressive flow (Papamakarios et al. 2017, arXiv:1705.07057)
fitted ex post on the training codes, as Pythae's MAFSampler (arXiv:2206.08309).

MAF's density pass is one MADE pass per layer; sampling is sequential, one pass per dimension.
"""

from __future__ import annotations

import torch

from gaespec.samplers.autoregressive import AffineAutoregressiveFlow
from gaespec.samplers.flow import FlowSampler
from gaespec.samplers.registry import sampler


@sampler("maf")
class MAFSampler(FlowSampler):
    """Codes from a MAF fitted on the training codes; see FlowSampler for the options."""

    def make_flow(self, dim: int) -> AffineAutoregressiveFlow:
        return AffineAutoregressiveFlow(dim, self.blocks, self.hidden)

    def to_base(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.flow(y)

    def from_base(self, u: torch.Tensor) -> torch.Tensor:
        return self.flow.inverse(u)[0]
