"""Samplers by name: fitted on a model's training codes, they decode images (arXiv:1903.12436).

Example: `gaespec.samplers.sample(model, "gmm", 64, run.data.train.x, seed=0)` → (64 c h w);
`fitted_sampler(run_folder, model, "maf", x_train)` fits once and reuses what it saved.
"""

from __future__ import annotations

import torch
from torch import nn

from gaespec.samplers.base import Sampler, decode, embed
from gaespec.samplers.options import parse_options
from gaespec.samplers.registry import SAMPLERS, known_samplers, load_builtin, make_sampler, sampler
from gaespec.samplers.saved import fitted_sampler, load_sampler, save_sampler

__all__ = [
    "SAMPLERS",
    "Sampler",
    "decode",
    "embed",
    "fitted_sampler",
    "known_samplers",
    "load_sampler",
    "make_sampler",
    "parse_options",
    "sample",
    "sampler",
    "save_sampler",
]


def sample(
    model: nn.Module, name: str, n: int, x_train: torch.Tensor | None, seed: int = 0, **options
) -> torch.Tensor:
    """n images (n ...) from sampler `name`, fitted on x_train's codes; one seed fixes them all."""
    load_builtin()
    if "seed" in SAMPLERS.get(name).option_names():
        options.setdefault("seed", seed)
    generator = torch.Generator().manual_seed(seed)
    return make_sampler(name, **options).fit(model, x_train).sample(n, generator=generator)
