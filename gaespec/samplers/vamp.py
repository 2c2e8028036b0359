"""The VampPrior sampler: codes from a VAMP model's own prior, the uniform mixture of its
pseudo-inputs' posteriors (Tomczak & Welling 2018, arXiv:1705.07120), decoded.

An explicit alias of the `prior` sampler that only a VampPrior model accepts, so that the study's
"VAMP" sampler is one name: a component drawn uniformly, then a code from its Gaussian. Pythae's
VAMPSampler differs: it takes the first pseudo-inputs in order (never a random one) and uses
tanh(log σ²) as the log-variance; both are departures from the paper that gaespec does not make.
"""

from __future__ import annotations

import torch
from torch import nn

from gaespec.errors import SamplerError
from gaespec.samplers.prior import PriorSampler
from gaespec.samplers.registry import sampler


def _prior_name(model: nn.Module) -> str:
    graph = getattr(model, "graph", None)
    if graph is not None:
        return f"'{graph.spec.prior.kind}'"
    return type(getattr(model, "prior", None)).__name__


@sampler("vamp")
class VampSampler(PriorSampler):
    """Codes from the model's VampPrior: a pseudo-input drawn uniformly, then its posterior."""

    def fit(self, model: nn.Module, x_train: torch.Tensor | None = None) -> VampSampler:
        """Check that `model`'s prior is a VampPrior (a prior with pseudo-inputs); returns self."""
        prior = getattr(model, "prior", None)
        if not callable(getattr(prior, "pseudo_input_images", None)):
            raise SamplerError(
                f"the vamp sampler draws from a VampPrior, but this model's prior is "
                f"{_prior_name(model)}",
                fix="use the prior sampler, or a model whose spec has [prior] kind = 'vamp'",
            )
        return super().fit(model, x_train)
