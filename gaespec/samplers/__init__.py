"""Samplers by name: fitted on a model's training codes, they decode images (arXiv:1903.12436).

Example: `gaespec.samplers.sample(model, "gmm", 64, run.data.train.x, seed=0)` → (64 c h w).
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from gaespec.errors import SamplerError
from gaespec.samplers.base import Sampler, decode, embed
from gaespec.samplers.registry import SAMPLERS, load_builtin, sampler

__all__ = [
    "SAMPLERS",
    "Sampler",
    "decode",
    "embed",
    "known_samplers",
    "make_sampler",
    "sample",
    "sampler",
]


def _options(cls: type[Sampler]) -> list[str]:
    return [
        name
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def known_samplers() -> list[str]:
    """Every registered sampler's name, sorted."""
    load_builtin()
    return list(SAMPLERS)


def make_sampler(name: str, **options) -> Sampler:
    """A new, unfitted sampler `name` with its options (e.g. n_components=10, seed=0 for gmm)."""
    load_builtin()
    cls = SAMPLERS.get(name)
    accepted = _options(cls)
    for option in options:
        if option not in accepted:
            raise SamplerError(
                f"the {name} sampler has no option '{option}' "
                f"(options: {', '.join(accepted) or 'none'})",
                name=option,
                choices=accepted,
            )
    return cls(**options)


def sample(
    model: nn.Module, name: str, n: int, x_train: torch.Tensor | None, seed: int = 0, **options
) -> torch.Tensor:
    """n images (n ...) from sampler `name`, fitted on x_train's codes; one seed fixes them all."""
    load_builtin()
    if "seed" in _options(SAMPLERS.get(name)):
        options.setdefault("seed", seed)
    generator = torch.Generator().manual_seed(seed)
    return make_sampler(name, **options).fit(model, x_train).sample(n, generator=generator)
