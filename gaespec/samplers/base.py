"""The sampler pipeline, fixed: embed training data by the posterior mean, draw codes, decode.

Ex-post density estimation on the codes follows Ghosh et al. 2020, "From Variational to
Deterministic Autoencoders" (arXiv:1903.12436); a sampler only says how codes are fitted and drawn.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import torch
from einops import rearrange
from torch import nn

from gaespec.errors import SamplerError
from gaespec.inference import evaluating, placement

BATCH_SIZE = 500


@contextmanager
def private_rng(seed: int, device: torch.device | str = "cpu") -> Iterator[None]:
    """Torch's global RNG (and `device`'s, if a GPU) seeded with `seed` inside, restored after:
    what runs inside is reproducible and no one else's random stream moves."""
    device = torch.device(device)
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def embed(
    model: nn.Module,
    x: torch.Tensor,
    batch_size: int = BATCH_SIZE,
    *,
    embedding: str = "mean",
    seed: int = 0,
) -> torch.Tensor:
    """Codes (n d) of data x (n ...), batch by batch, never a full forward pass: the posterior
    means, or with embedding="sample" one posterior sample per image (seeded by `seed`)."""
    if embedding not in ("mean", "sample"):
        raise SamplerError(f"embedding must be 'mean' or 'sample', got {embedding!r}")
    device, dtype = placement(model)
    batches = x.split(batch_size)
    with evaluating(model):
        if embedding == "mean":
            return torch.cat([model.encode(batch.to(device, dtype)).mean for batch in batches])
        with private_rng(seed, device):
            samples = [model.encode(batch.to(device, dtype)).rsample(1) for batch in batches]
    return torch.cat([rearrange(z, "1 b d -> b d") for z in samples])


def decode(model: nn.Module, z: torch.Tensor, batch_size: int = BATCH_SIZE) -> torch.Tensor:
    """Images (n ...) decoded from codes z (n d), batch by batch."""
    device, dtype = placement(model)
    with evaluating(model):
        return torch.cat([model.decode(batch.to(device, dtype)) for batch in z.split(batch_size)])


def _json(value):
    return list(value) if isinstance(value, tuple) else value


class Sampler:
    """Base of every sampler: `fit(model, x_train)`, then `sample(n)` gives decoded images.

    A sampler's options are the parameters of its `__init__`, each kept as the attribute of the
    same name; its fitted state is a dict of tensors (`state`, `restore`), so that a fitted sampler
    is saved as JSON and safetensors (see `gaespec.samplers.saved`).

    Attributes:
        name: the registered name (set by the `sampler` decorator).
        uses_codes: whether `fit` embeds the training data and hands the codes to `fit_codes`.
        embedding: the codes fitted: "mean" (posterior means, the default) or "sample".
        seed: the seed of everything random in fitting (posterior samples, initialisation).
        report: what fitting did, as JSON values (iterations, losses), saved with the sampler.
        saved_in: the folder it was saved in or loaded from (`gaespec.samplers.saved`), or None.
        reused: whether it was loaded from `saved_in` rather than fitted.
    """

    name: ClassVar[str] = "sampler"
    uses_codes: ClassVar[bool] = True
    embedding: str = "mean"
    seed: int = 0
    report: dict | None = None
    saved_in: Path | None = None
    reused: bool = False

    @classmethod
    def option_names(cls) -> list[str]:
        """The names of the options `__init__` takes, in its order."""
        return [
            name
            for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def options(self) -> dict:
        """Every option's value, defaults included, as JSON values (tuples become lists)."""
        return {name: _json(getattr(self, name)) for name in self.option_names()}

    def fit_codes(self, codes: torch.Tensor) -> None:
        """Fit to the training codes (n d); samplers that need no codes leave this alone."""

    def codes(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """n codes (n d) to decode; the one hook every sampler overrides."""
        raise NotImplementedError

    def state(self) -> dict[str, torch.Tensor]:
        """The fitted tensors, by name, that `restore` reads back; none for a sampler that fits
        nothing."""
        return {}

    def load_state(self, state: dict[str, torch.Tensor], model: nn.Module) -> None:
        """Take back the tensors `state` returned, for `model`; the hook of `restore`."""

    def restore(self, model: nn.Module, state: dict[str, torch.Tensor]) -> Sampler:
        """This sampler as fitted for `model`, from the tensors its `state` gave; returns self."""
        self.load_state(state, model)
        self.model = model
        return self

    def fit(self, model: nn.Module, x_train: torch.Tensor | None = None) -> Sampler:
        """Fit to the codes of x_train (n ...) under `model`'s posterior (its mean unless
        `embedding` says "sample"); returns self."""
        self.model = model
        if self.uses_codes:
            if x_train is None:
                raise SamplerError(
                    f"the {self.name} sampler is fitted on training codes, but x_train is None",
                    fix="pass the training images, e.g. run.data.train.x",
                )
            self.fit_codes(embed(model, x_train, embedding=self.embedding, seed=self.seed))
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
