"""The study's measurements of one trained model, each written once for `gaespec eval` and the
bench: reconstruction MSE and FID, FID/KID/IS of a sampler's images, classification and
clustering accuracy of the codes, the FID floor of the data itself, interpolation grids.

Every FID compares n generated (or reconstructed) images with the first n images of the same
split, whose Inception features are cached (`reference_features`), so a model's FID costs only
its own images. FID is biased by n: the floor is the FID between n training and n images of the
split, the best a model could score at that n.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from gaespec.data import DataSplits
from gaespec.samplers.base import decode, embed

FID_SAMPLES = 1000  # the default n of FID, KID and IS: the floor at n = 1,000 is about 11


def _reference(data: DataSplits, split: str, n: int, *, progress: bool):
    from gaespec.metrics import reference_features

    x = getattr(data, split).head(n)
    return reference_features(x, f"{data.source}:{split}", progress=progress)


def reconstructions(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """x̂ = decode(posterior mean of x), batch by batch, on the CPU."""
    return decode(model, embed(model, x)).cpu()


def fidelity(images, data: DataSplits, split: str, metrics: Sequence[str], *, progress=True):
    """{metric: FidelityResult as a dict} of `images` against as many of the split's images."""
    from gaespec.metrics import fidelity_metrics

    reference = _reference(data, split, len(images), progress=progress)
    got = fidelity_metrics(images, reference, metrics, progress=progress)
    return {name: dataclasses.asdict(result) for name, result in got.items()}


def reconstruction_fid(model, data: DataSplits, split: str, n: int = FID_SAMPLES, **options):
    """FID of the reconstructions of the split's first n images against those images."""
    x = getattr(data, split).head(n)
    return fidelity(reconstructions(model, x), data, split, ("fid",), **options)["fid"]


def sampler_fidelity(
    run: str | Path,
    model: nn.Module,
    data: DataSplits,
    sampler: str,
    split: str,
    n: int = FID_SAMPLES,
    metrics: Sequence[str] = ("fid", "kid", "is"),
    *,
    seed: int = 0,
    **options,
):
    """FID, KID and IS of n images of `sampler` (fitted on the training codes, saved in the run
    and reused) against n images of the split."""
    from gaespec.samplers import fitted_sampler, make_sampler

    x_train = data.train.x if make_sampler(sampler).uses_codes else None
    chosen = fitted_sampler(run, model, sampler, x_train)
    n = min(n, len(getattr(data, split)))
    images = chosen.sample(n, generator=torch.Generator().manual_seed(seed)).cpu()
    return fidelity(images, data, split, metrics, **options)


def fid_floor(data: DataSplits, split: str, n: int = FID_SAMPLES, *, progress=True):
    """FID between n training images and n images of the split: the data's own floor at n."""
    from gaespec.metrics import fidelity_metrics, reference_features

    n = min(n, len(data.train), len(getattr(data, split)))
    train = reference_features(data.train.head(n), f"{data.source}:train", progress=progress)
    result = fidelity_metrics(train, _reference(data, split, n, progress=progress), ("fid",))
    return dataclasses.asdict(result["fid"])


def latent_accuracies(model, data: DataSplits, split: str, *, seed: int = 0):
    """Classification (20 linear layers) and clustering (100 k-means) accuracy on the split."""
    from gaespec.metrics import classification_accuracy, clustering_accuracy

    return {
        "classification": dataclasses.asdict(
            classification_accuracy(model, data, split=split, seed=seed)
        ),
        "clustering": dataclasses.asdict(clustering_accuracy(model, data, split=split, seed=seed)),
    }
