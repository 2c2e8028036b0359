"""The sampler pipeline, fixed: embed training data by the posterior mean, draw codes, decode.

Ex-post density estimation on the codes follows Ghosh et al. 2020, "From Variational to
Deterministic Autoencoders" (arXiv:1903.12436); a sampler only says how codes are fitted and drawn.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from gaespec.errors import SamplerError
from gaespec.inference import evaluating, placement

BATCH_SIZE = 500


def embed(model: nn.Module, x: torch.Tensor, batch_size: int = BATCH_SIZE) -> torch.Tensor:
    """Posterior means (n d) of data x (n ...), batch by batch; never a full forward pass."""
    device, dtype = placement(model)
    with evaluating(model):
        means = [model.encode(batch.to(device, dtype)).mean for batch in x.split(batch_size)]
    return torch.cat(means)


def decode(model: nn.Module, z: torch.Tensor, batch_size: int = BATCH_SIZE) -> torch.Tensor:
    """Images (n ...) decoded from codes z (n d), batch by batch."""
    device, dtype = placement(model)
    with evaluating(model):
        return torch.cat([model.decode(batch.to(device, dtype)) for batch in z.split(batch_size)])


class Sampler:
    """Base of every sampler: `fit(model, x_train)`, then `sample(n)` gives decoded images.

    Attributes:
        name: the registered name (set by the `sampler` decorator).
        uses_codes: whether `fit` embeds the training data and hands the codes to `fit_codes`.
    """

    name: ClassVar[str] = "sampler"
    uses_codes: ClassVar[bool] = True

    def fit_codes(self, codes: torch.Tensor) -> None:
        """Fit to the training codes (n d); samplers that need no codes leave this alone."""

    def codes(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """n codes (n d) to decode; the one hook every sampler overrides."""
        raise NotImplementedError

    def fit(self, model: nn.Module, x_train: torch.Tensor | None = None) -> Sampler:
        """Fit to the codes of x_train (n ...) under `model`'s posterior mean; returns self."""
        self.model = model
        if self.uses_codes:
            if x_train is None:
                raise SamplerError(
                    f"the {self.name} sampler is fitted on training codes, but x_train is None",
                    fix="pass the training images, e.g. run.data.train.x",
                )
            self.fit_codes(embed(model, x_train))
        return self

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """n decoded images (n ...); the same generator state gives the same images."""
        if not hasattr(self, "model"):
            raise SamplerError(
                f"the {self.name} sampler is not fitted yet",
                fix="call .fit(model, x_train) before .sample(n)",
            )
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise SamplerError(f"the number of samples must be an integer ≥ 0, got {n!r}")
        return decode(self.model, self.codes(n, generator))
