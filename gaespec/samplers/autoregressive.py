"""Affine autoregressive flows on codes (Papamakarios et al. 2017, "Masked Autoregressive Flow for
Density Estimation", arXiv:1705.07057, section 3): layers u = (x − μ(x))·exp(−α(x)) whose μ_i
and α_i depend only on x before i (a MADE, Germain et al. 2015), the order of the dims reversed
between layers.

A layer's forward pass is one MADE pass; its inverse x_i = u_i·exp(α_i) + μ_i takes one pass per
dimension. MAF runs the forward pass for the density (data → base); IAF (Kingma et al. 2016,
arXiv:1606.04934, eq. 10) runs it for sampling (base → data): the same flow with x and u swapped,
as Papamakarios et al. show in their section 3.3.
"""

from __future__ import annotations

import torch
from torch import nn

from gaespec.components.flows import MADE


class AffineAutoregressiveStep(nn.Module):
    """One layer: μ, α = MADE(x); u = (x − μ)·exp(−α), with log|det ∂u/∂x| = −Σ α."""

    def __init__(self, dim: int, hidden: tuple[int, ...]):
        super().__init__()
        self.made = MADE(dim, hidden, outputs=2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(u, log|det ∂u/∂x|) for x (n d): shapes (n d) and (n)."""
        mu, alpha = self.made(x).unbind(1)
        return (x - mu) * torch.exp(-alpha), -alpha.sum(-1)

    def inverse(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, log|det ∂u/∂x| at x) for the x (n d) whose forward pass gives u (n d)."""
        x = torch.zeros_like(u)
        for _ in range(u.shape[-1]):  # pass i fixes x_i; the last pass's μ, α are those at x
            mu, alpha = self.made(x).unbind(1)
            x = u * torch.exp(alpha) + mu
        return x, -alpha.sum(-1)


class AffineAutoregressiveFlow(nn.Module):
    """`blocks` layers, the order of the dims reversed before every layer but the first."""

    def __init__(self, dim: int, blocks: int, hidden: tuple[int, ...]):
        super().__init__()
        self.steps = nn.ModuleList(AffineAutoregressiveStep(dim, hidden) for _ in range(blocks))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(u, log|det ∂u/∂x|) for x (n d), one MADE pass per layer: shapes (n d) and (n)."""
        log_det = x.new_zeros(x.shape[0])
        for t, step in enumerate(self.steps):
            if t:
                x = x.flip(-1)
            x, step_log_det = step(x)
            log_det = log_det + step_log_det
        return x, log_det

    def inverse(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, log|det ∂u/∂x| at x) for the x (n d) whose forward pass gives u (n d): each layer
        inverted in turn, one MADE pass per dimension."""
        log_det = u.new_zeros(u.shape[0])
        for t in reversed(range(len(self.steps))):
            u, step_log_det = self.steps[t].inverse(u)
            log_det = log_det + step_log_det
            if t:
                u = u.flip(-1)
        return u, log_det
