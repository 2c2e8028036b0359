"""Prior sampler: z ~ p(z), the model's own prior, decoded (Kingma & Welling, arXiv:1312.6114)."""

from __future__ import annotations

import inspect

import torch

from gaespec.inference import placement
from gaespec.samplers.base import Sampler, private_rng
from gaespec.samplers.registry import sampler


def _seed_from(generator: torch.Generator) -> int:
    return int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))


@sampler("prior")
class PriorSampler(Sampler):
    """Codes from the model's prior p(z); fitting reads no data."""

    uses_codes = False

    def codes(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        device, dtype = placement(self.model)
        with torch.no_grad():
            prior = self.model.prior()
            if generator is None:
                return prior.sample(n, device=device, dtype=dtype)
            if "generator" in inspect.signature(prior.sample).parameters:
                return prior.sample(n, device=device, dtype=dtype, generator=generator)
            # a prior that takes no generator draws from the global RNG: seed a private copy of it
            # from the generator, so the same generator gives the same codes and no one else's
            # random stream moves
            with private_rng(_seed_from(generator), device):
                return prior.sample(n, device=device, dtype=dtype)
