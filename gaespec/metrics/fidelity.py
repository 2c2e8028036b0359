"""FID, KID and IS of images with the real Inception network and torch-fidelity's statistics.

FID: Heusel et al. 2017 (arXiv:1706.08500); KID: Bińkowski et al. 2018 (arXiv:1801.01401);
IS: Salimans et al. 2016 (arXiv:1606.03498). Images are float tensors in [0, 1] (n c h w); grey
ones go to three channels, as the Pythae study did (arXiv:2206.08309). Every result names the
extractor that made it and the number of images on each side. Features of a reference split are
computed once and cached (safetensors), so a model's FID costs only its own images.

    from gaespec.metrics import fidelity_metrics
    results = fidelity_metrics(generated, test_images, reference_key="mnist5k:test")
    print(results["fid"])   # FID 11.2 (1000 vs 1000 images; <extractor>)
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from einops import repeat
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch_fidelity.metric_fid import (
    KEY_METRIC_FID,
    fid_features_to_statistics,
    fid_statistics_to_metric,
)
from torch_fidelity.metric_isc import (
    KEY_METRIC_ISC_MEAN,
    KEY_METRIC_ISC_STD,
    isc_features_to_metric,
)
from torch_fidelity.metric_kid import (
    KEY_METRIC_KID_MEAN,
    KEY_METRIC_KID_STD,
    kid_features_to_metric,
)
from tqdm.auto import tqdm

from gaespec.atomic import atomic_write
from gaespec.errors import DataError, MetricError
from gaespec.metrics.inception import (
    TORCH_FIDELITY_FILE,
    URL_INCEPTION_V3,
    WEIGHTS_ENV,
    Inception,
    cache_dir,
    load_inception,
    torch_fidelity_weights_path,
)
from gaespec.registry import Registry

SEED = 2020  # torch-fidelity's seed for KID's subsets and IS's shuffle
KID_SUBSETS = 100  # torch-fidelity's defaults: 100 subsets of 1,000 images each
KID_SUBSET_SIZE = 1000
IS_SPLITS = 10
FORMAT = "gaespec inception features 1"


@dataclass(frozen=True, eq=False)
class Features:
    """Inception features of a set of images.

    Attributes:
        pool: (n 2048) pool features, float64 (the network's float32, widened for statistics).
        logits: (n 1008) bias-free logits (torch-fidelity's `logits_unbiased`, what its IS uses),
            float64, or None where the extractor has no classifier.
        extractor: the name of the Inception that made them.
    """

    pool: torch.Tensor
    logits: torch.Tensor | None
    extractor: str

    @property
    def n(self) -> int:
        """The number of images."""
        return len(self.pool)


@dataclass(frozen=True)
class FidelityResult:
    """One number: which metric, its value, which extractor made it, from how many images.

    Attributes:
        metric: "FID", "KID" or "IS".
        value: the number; None where the metric is unavailable.
        extractor: the name of the Inception whose features it was computed from.
        n: the number of images measured.
        n_reference: the number of reference images (None for IS, which has none).
        std: the spread over KID's subsets or IS's splits (None for FID).
        unavailable: why there is no value and how to get one; None when there is one.
    """

    metric: str
    value: float | None
    extractor: str
    n: int
    n_reference: int | None = None
    std: float | None = None
    unavailable: str | None = None

    @property
    def available(self) -> bool:
        """Whether there is a value."""
        return self.value is not None

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.metric} unavailable: {self.unavailable}"
        spread = "" if self.std is None else f" ± {self.std:.4g}"
        images = f"{self.n}" if self.n_reference is None else f"{self.n} vs {self.n_reference}"
        return f"{self.metric} {self.value:.4g}{spread} ({images} images; {self.extractor})"


def inception_input(images: torch.Tensor) -> torch.Tensor:
    """Float images in [0, 1] (n c h w), c 1 or 3, as the uint8 RGB (n 3 h w) that torch-fidelity's
    Inception takes: clamped, ×255 and rounded (so uint8 data comes back exactly), grey copied
    to three channels."""
    if images.dim() != 4 or len(images) == 0 or images.shape[1] not in (1, 3):
        raise DataError(
            "Inception metrics need a non-empty batch of grey or RGB images (n, 1 or 3, h, w), "
            f"got shape {tuple(images.shape)}"
        )
    if not images.is_floating_point():
        raise DataError(
            f"Inception metrics need float images in [0, 1], got dtype {images.dtype}",
            fix="divide uint8 pixels by 255",
        )
    images = images.detach().cpu()
    if not bool(torch.isfinite(images).all()):
        raise DataError("Inception metrics got images with NaN or infinite pixels")
    low, high = float(images.min()), float(images.max())
    if low < -0.5 or high > 1.5:  # another convention ([-1, 1], 0..255), not a decoder's overshoot
        raise DataError(
            f"Inception metrics need images in [0, 1], got pixels from {low:.4g} to {high:.4g}",
            fix="map the images into [0, 1] first",
        )
    pixels = images.clamp(0, 1).mul(255).round().to(torch.uint8)
    if pixels.shape[1] == 1:
        pixels = repeat(pixels, "n 1 h w -> n 3 h w")
    return pixels.contiguous()


def _extract(
    pixels: torch.Tensor, extractor: Inception, batch_size: int, progress: bool, desc: str
) -> Features:
    """Features of uint8 images (n 3 h w), a batch at a time, with a progress bar."""
    pools, logits = [], []
    bar = tqdm(
        total=len(pixels),
        desc=desc,
        unit="img",
        disable=not progress,
        leave=False,
        dynamic_ncols=True,
    )
    with torch.inference_mode(), bar:
        for batch in pixels.split(batch_size):
            pool, logit = extractor(batch)
            pools.append(pool.float().cpu())
            if logit is not None:
                logits.append(logit.float().cpu())
            bar.update(len(batch))
    return Features(
        torch.cat(pools).double(),
        torch.cat(logits).double() if extractor.has_logits else None,
        extractor.name,
    )


def inception_features(
    images: torch.Tensor,
    extractor: Inception | None = None,
    *,
    batch_size: int = 50,
    progress: bool = True,
    desc: str = "Inception features",
) -> Features:
    """The Inception features of float images in [0, 1] (n c h w); the extractor defaults to
    `load_inception()`."""
    pixels = inception_input(images)
    return _extract(pixels, extractor or load_inception(), batch_size, progress, desc)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-")[:48] or "data"


def reference_features(
    images: torch.Tensor,
    key: str,
    extractor: Inception | None = None,
    *,
    batch_size: int = 50,
    progress: bool = True,
    cache: str | os.PathLike | None = None,
) -> Features:
    """`inception_features(images)`, computed once and cached as safetensors in `cache` (default
    `cache_dir()/features`), keyed by the caller's data `key` (a name such as "mnist5k:test"),
    the extractor's name, the number of images and a SHA-256 of their pixels."""
    extractor = extractor or load_inception()
    pixels = inception_input(images)
    metadata = {
        "format": FORMAT,
        "key": key,
        "extractor": extractor.name,
        "n": str(len(pixels)),
        "pixels_sha256": hashlib.sha256(pixels.numpy().tobytes()).hexdigest(),
    }
    name = hashlib.sha256("\0".join(metadata.values()).encode()).hexdigest()[:16]
    folder = Path(cache) if cache is not None else cache_dir() / "features"
    path = folder / f"{_slug(key)}-n{len(pixels)}-{name}.safetensors"
    try:
        with safe_open(path, framework="pt") as f:
            if f.metadata() == metadata:
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
                logits = tensors.get("logits")
                return Features(
                    tensors["pool"].double(),
                    None if logits is None else logits.double(),
                    extractor.name,
                )
    except (OSError, SafetensorError, KeyError):  # missing, or not what a writer of ours wrote
        pass
    features = _extract(pixels, extractor, batch_size, progress, f"Inception features ({key})")
    tensors = {"pool": features.pool.float()}  # the network's float32, exactly
    if features.logits is not None:
        tensors["logits"] = features.logits.float()
    try:
        atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))
    except OSError as error:  # the features cost minutes: keep them for this call at least
        warnings.warn(f"could not cache Inception features in {str(path)!r}: {error}", stacklevel=2)
    return features


def _check_pair(features: Features, reference: Features, metric: str) -> None:
    if features.extractor != reference.extractor:
        raise MetricError(
            f"{metric} compares features of one extractor: got {features.extractor!r} and "
            f"{reference.extractor!r}",
            fix="compute both sides' features with the same Inception",
        )
    if min(features.n, reference.n) < 2:
        raise MetricError(
            f"{metric} needs at least 2 images on each side, got {features.n} and {reference.n}"
        )


def fid_from_features(features: Features, reference: Features) -> FidelityResult:
    """The Fréchet distance between Gaussians fitted to the two sets' pool features (FID), with
    torch-fidelity's statistics; biased upwards for small n, so compare only equal n."""
    _check_pair(features, reference, "FID")
    stats = [fid_features_to_statistics(f.pool) for f in (features, reference)]
    value = fid_statistics_to_metric(*stats, verbose=False)[KEY_METRIC_FID]
    return FidelityResult("FID", value, features.extractor, features.n, reference.n)


def kid_from_features(
    features: Features,
    reference: Features,
    *,
    subsets: int = KID_SUBSETS,
    subset_size: int = KID_SUBSET_SIZE,
    seed: int = SEED,
) -> FidelityResult:
    """KID: the unbiased MMD² with the cubic polynomial kernel (x·y/2048 + 1)³, mean and spread
    over `subsets` random subsets, torch-fidelity's; the subset size is capped at the smaller n,
    and subsets that can only be the whole sets are drawn once."""
    _check_pair(features, reference, "KID")
    size = min(subset_size, features.n, reference.n)
    if size == features.n == reference.n:  # every subset is both whole sets: one says it all
        subsets = 1
    out = kid_features_to_metric(
        features.pool,
        reference.pool,
        kid_subsets=subsets,
        kid_subset_size=size,
        rng_seed=seed,
        verbose=False,
    )
    return FidelityResult(
        "KID",
        out[KEY_METRIC_KID_MEAN],
        features.extractor,
        features.n,
        reference.n,
        std=out[KEY_METRIC_KID_STD],
    )


def is_unavailable(extractor: str) -> str:
    """The sentence that says why an extractor without a classifier gives no IS, and the fix."""
    return (
        f"IS needs Inception's classifier logits, which {extractor} does not have; put "
        f"torch-fidelity's weights file {TORCH_FIDELITY_FILE} ({URL_INCEPTION_V3}) at "
        f"{str(torch_fidelity_weights_path())!r} or name it with {WEIGHTS_ENV}=FILE."
    )


def _no_is(extractor: str, n: int) -> FidelityResult:
    return FidelityResult("IS", None, extractor, n, unavailable=is_unavailable(extractor))


def is_from_features(
    features: Features, *, splits: int = IS_SPLITS, seed: int = SEED
) -> FidelityResult:
    """The Inception Score exp E KL(p(y|x) ‖ p(y)), mean and spread over `splits` (at most n)
    shuffled splits, torch-fidelity's; unavailable where the features have no logits."""
    if features.logits is None:
        return _no_is(features.extractor, features.n)
    out = isc_features_to_metric(features.logits, min(splits, features.n), True, seed)
    return FidelityResult(
        "IS",
        out[KEY_METRIC_ISC_MEAN],
        features.extractor,
        features.n,
        std=out[KEY_METRIC_ISC_STD],
    )


@dataclass(frozen=True)
class Metric:
    """A metric `fidelity_metrics` computes: from the generated features and, if it needs them, the
    reference's."""

    name: str
    compute: Callable[[Features, Features | None], FidelityResult]
    needs_reference: bool
    needs_logits: bool


METRICS: Registry[Metric] = Registry("fidelity metric", MetricError)
for _metric in (
    Metric("fid", fid_from_features, needs_reference=True, needs_logits=False),
    Metric("kid", kid_from_features, needs_reference=True, needs_logits=False),
    Metric("is", lambda f, _: is_from_features(f), needs_reference=False, needs_logits=True),
):
    METRICS.register(_metric.name)(_metric)


def fidelity_metrics(
    generated: torch.Tensor | Features,
    reference: torch.Tensor | Features | None = None,
    metrics: Sequence[str] = ("fid", "kid", "is"),
    *,
    reference_key: str | None = None,
    extractor: Inception | None = None,
    weights: str | os.PathLike | None = None,
    device: str | None = None,
    batch_size: int = 50,
    progress: bool = True,
) -> dict[str, FidelityResult]:
    """FID, KID and IS of `generated` against `reference`, each side's features computed once.

    Either side may be float images in [0, 1] (n c h w) or `Features`. With `reference_key`, the
    reference's features are cached under that key (see `reference_features`). The extractor
    defaults to `load_inception(weights, device)`; IS without logits is reported unavailable,
    never computed. Returns {metric name: FidelityResult}, in the order asked.
    """
    chosen = [METRICS.get(name) for name in metrics]
    if reference is None and any(m.needs_reference for m in chosen):
        needing = ", ".join(m.name for m in chosen if m.needs_reference)
        raise MetricError(f"{needing} compare(s) with reference images, and none were given")
    if extractor is None and any(isinstance(x, torch.Tensor) for x in (generated, reference)):
        extractor = load_inception(weights, device)
    if extractor is not None and not extractor.has_logits and all(m.needs_logits for m in chosen):
        # only IS, which this network cannot give: spend no minutes on features
        n = len(generated) if isinstance(generated, torch.Tensor) else generated.n
        return {m.name: _no_is(extractor.name, n) for m in chosen}
    if isinstance(generated, torch.Tensor):
        generated = inception_features(
            generated,
            extractor,
            batch_size=batch_size,
            progress=progress,
            desc="Inception features",
        )
    if isinstance(reference, torch.Tensor) and any(m.needs_reference for m in chosen):
        if reference_key is not None:
            reference = reference_features(
                reference, reference_key, extractor, batch_size=batch_size, progress=progress
            )
        else:
            reference = inception_features(
                reference,
                extractor,
                batch_size=batch_size,
                progress=progress,
                desc="Inception features (reference)",
            )
    return {m.name: m.compute(generated, reference) for m in chosen}


def fid(
    images: torch.Tensor | Features, reference: torch.Tensor | Features, **options
) -> FidelityResult:
    """FID of `images` against `reference`; options as for `fidelity_metrics`."""
    return fidelity_metrics(images, reference, ("fid",), **options)["fid"]


def kid(
    images: torch.Tensor | Features, reference: torch.Tensor | Features, **options
) -> FidelityResult:
    """KID of `images` against `reference`; options as for `fidelity_metrics`."""
    return fidelity_metrics(images, reference, ("kid",), **options)["kid"]


def inception_score(images: torch.Tensor | Features, **options) -> FidelityResult:
    """IS of `images`; unavailable (with the sentence why) where the extractor has no logits."""
    return fidelity_metrics(images, None, ("is",), **options)["is"]
