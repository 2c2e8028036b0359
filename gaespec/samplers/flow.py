"""Flow samplers: a normalizing flow fitted ex post on the training codes by maximum likelihood,
sampled by pushing u ~ N(0, I) through it (MAF and IAF samplers of the Pythae study, Chadebec et
al. 2022, arXiv:2206.08309).

The codes are standardised first (each dimension to mean 0 and variance 1: a flow starts near the
identity, and Adam's steps then suit every dimension alike); the density accounts for it:
log p(z) = log p_flow((z − shift)/scale) − Σ log scale.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from gaespec.components.distributions import StandardNormalDistribution
from gaespec.errors import SamplerError
from gaespec.inference import placement
from gaespec.samplers import options
from gaespec.samplers.base import private_rng
from gaespec.samplers.fitting import FittedByGradient, check_codes, fit_by_loss


def standardisation(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(shift, scale), each (d): the codes' mean and standard deviation per dimension; a constant
    dimension keeps scale 1."""
    scale = codes.std(0, correction=0)
    return codes.mean(0), torch.where(scale > 0, scale, torch.ones_like(scale))


class FlowSampler(FittedByGradient, ABC):
    """Codes z = shift + scale·g(u), u ~ N(0, I), for a flow g fitted on the training codes.

    A subclass says which flow (`make_flow`) and how it maps codes to the base (`to_base`, with
    log|det ∂u/∂y|) and back (`from_base`).

    Attributes:
        blocks: MADE blocks, the order of the dims reversed between them (Pythae's 2).
        hidden: the widths of each MADE's hidden layers: two layers, as gaespec's issue 14 asks
            ("two-layer MADE blocks"), of Pythae's width 128 (Pythae has three layers:
            hidden=[128, 128, 128] gives its sampler).
        standardize: whether the flow sees the codes standardised (see the module's docstring).
        epochs, lr, batch_size, validation, patience: how it is fitted (`Fitting`).
        embedding: fit on posterior means ("mean", the default) or samples ("sample").
        seed: the seed of the fit (initialisation, split, batches, posterior samples).
        device: where the flow is fitted and run; None: the model's device.
        flow, shift, scale: once fitted, the flow and the standardisation (d), (d).
        report: what fitting did (epochs run, best epoch, losses).
    """

    def __init__(
        self,
        blocks: int = 2,
        hidden: tuple[int, ...] = (128, 128),
        standardize: bool = True,
        epochs: int = 100,
        lr: float = 1e-4,
        batch_size: int = 64,
        validation: float = 0.1,
        patience: int = 10,
        embedding: str = "mean",
        seed: int = 0,
        device: str | None = None,
    ):
        self.blocks = options.positive_int(self.name, "blocks", blocks)
        self.hidden = options.sizes(self.name, "hidden", hidden)
        if not isinstance(standardize, bool):
            raise SamplerError(
                f"the {self.name} sampler's standardize must be true or false, got {standardize!r}"
            )
        self.standardize = standardize
        self.set_fitting(
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            validation=validation,
            patience=patience,
            embedding=embedding,
            seed=seed,
            device=device,
        )

    @abstractmethod
    def make_flow(self, dim: int) -> nn.Module:
        """A new flow on d = `dim` dimensions."""

    @abstractmethod
    def to_base(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(u, log|det ∂u/∂y|) for standardised codes y (n d): shapes (n d) and (n)."""

    @abstractmethod
    def from_base(self, u: torch.Tensor) -> torch.Tensor:
        """The standardised codes y (n d) whose base points are u (n d)."""

    def _log_prob_standardised(self, y: torch.Tensor) -> torch.Tensor:
        u, log_det = self.to_base(y)
        return StandardNormalDistribution(y.shape[-1]).log_prob(u) + log_det

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) (n) of codes z (n d) under the fitted flow, standardisation included."""
        z = z.to(self.shift.device, self.shift.dtype)
        y = (z - self.shift) / self.scale
        return self._log_prob_standardised(y) - torch.log(self.scale).sum()

    def fit_codes(self, codes: torch.Tensor) -> None:
        check_codes(self.name, codes)
        device = self.placed(codes.device)
        codes = codes.detach().to(device)
        dim = codes.shape[-1]
        with private_rng(self.seed, device):
            if self.standardize:
                shift, scale = standardisation(codes)
            else:
                shift, scale = codes.new_zeros(dim), codes.new_ones(dim)
            self.shift, self.scale = shift, scale
            self.flow = self.make_flow(dim).to(device, codes.dtype)
            self.report = fit_by_loss(
                self.name,
                self.flow,
                lambda y: -self._log_prob_standardised(y).mean(),
                (codes - shift) / scale,
                self.fitting,
            )
        self.flow.requires_grad_(False)

    def state(self) -> dict[str, torch.Tensor]:
        flow = {f"flow.{k}": v for k, v in self.flow.state_dict().items()}
        return {"shift": self.shift, "scale": self.scale, **flow}

    def load_state(self, state: dict[str, torch.Tensor], model: nn.Module) -> None:
        device = self.placed(placement(model)[0])
        self.shift, self.scale = state["shift"].to(device), state["scale"].to(device)
        self.flow = self.make_flow(len(self.shift)).to(device, self.shift.dtype)
        prefix = "flow."
        self.flow.load_state_dict(
            {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        )
        self.flow.requires_grad_(False).eval()

    def codes(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        if not hasattr(self, "flow"):
            raise SamplerError(
                f"the {self.name} sampler is not fitted yet", fix="call .fit(model, x_train)"
            )
        device = generator.device if generator is not None else torch.device("cpu")
        dim, dtype = len(self.shift), self.shift.dtype
        u = torch.randn(n, dim, generator=generator, device=device, dtype=dtype)
        with torch.no_grad():
            return self.shift + self.scale * self.from_base(u.to(self.shift.device))
