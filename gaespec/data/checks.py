"""Checks that refuse bad data with one clear DataError before any training starts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from einops import rearrange

from gaespec.errors import DataError

_LAYOUTS = "(N, C, H, W), (N, H, W) or (N, D)"


def shape_text(shape: Sequence[int]) -> str:
    """A shape as the messages write it: 1×28×28."""
    return "×".join(str(int(n)) for n in shape) or "() (a scalar)"


def _check_finite(x: np.ndarray, *, source: str) -> None:
    finite = np.isfinite(x)
    if finite.all():
        return
    n_nan, n_inf = int(np.isnan(x).sum()), int(np.isinf(x).sum())
    first = tuple(int(i) for i in np.argwhere(~finite)[0])
    raise DataError(
        f"data {source!r} has {n_nan + n_inf} non-finite values ({n_nan} NaN, {n_inf} inf), "
        f"the first at index {first}",
        fix="drop or repair those samples before training",
    )


def check_array(x: np.ndarray, *, source: str) -> np.ndarray:
    """`x` as float32 (N, C, H, W) or (N, D), uint8 pixels divided by 255; else DataError.

    Other data keep their values (0/1 integers stay 0/1); (N, H, W) gains a channel axis.
    """
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise DataError(
            f"data {source!r} has dtype {x.dtype}, which is not numeric",
            fix="convert it to numbers, e.g. x.astype(np.float32)",
        )
    if x.ndim not in (2, 3, 4):
        raise DataError(
            f"data {source!r} is an array of rank {x.ndim} (shape {shape_text(x.shape)}) "
            f"but gaespec needs a batch of samples: {_LAYOUTS}",
            fix="add a batch axis with x[None] for a single sample"
            if x.ndim < 2
            else "merge the extra axes into the batch or the channels",
        )
    if x.size == 0:
        raise DataError(
            f"data {source!r} is empty (shape {shape_text(x.shape)})",
            fix="check that the source holds samples",
        )
    if x.ndim == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        raise DataError(
            f"data {source!r} has samples of shape {shape_text(x.shape[1:])}, which look like "
            "channels-last images; gaespec wants channels first (N, C, H, W)",
            fix="transpose them: x = x.transpose(0, 3, 1, 2)",
        )
    if x.dtype.kind == "f":
        _check_finite(x, source=source)
    if x.ndim == 3:
        x = rearrange(x, "n h w -> n 1 h w")
    scale = x.dtype == np.uint8  # by type, not by value: 0/1 integers are binary pixels
    out = x.astype(np.float32)
    if scale:
        out /= 255.0
    if not np.isfinite(out).all():  # finite float64 values beyond float32's range
        raise DataError(
            f"data {source!r} has values beyond float32's range (largest magnitude "
            f"{float(np.abs(x).max()):.4g})",
            fix="rescale the data to [0, 1]",
        )
    return np.ascontiguousarray(out)


def check_labels(y: np.ndarray, *, n: int, source: str) -> np.ndarray:
    """`y` as int64 class indices (n,), one per sample; else DataError."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != n:
        raise DataError(
            f"data {source!r} has {n} samples but labels of shape {shape_text(y.shape)}",
            fix=f"give one class index per sample, shape ({n},)",
        )
    if y.dtype.kind not in "biuf" or (y.dtype.kind == "f" and not np.all(y == np.round(y))):
        raise DataError(
            f"data {source!r} has labels of dtype {y.dtype} that are not whole numbers",
            fix="give class indices 0, 1, …, K-1",
        )
    if len(y) and y.min() < 0:
        raise DataError(
            f"data {source!r} has negative labels (the least is {int(y.min())})",
            fix="give class indices 0, 1, …, K-1",
        )
    return y.astype(np.int64)


def check_range(x, *, low: float, high: float, source: str, why: str) -> None:
    """Refuse data (a NumPy array or a tensor) with values outside [low, high], saying `why`."""
    least, most = float(x.min()), float(x.max())
    if least < low or most > high:
        raise DataError(
            f"data {source!r} has values in [{least:.4g}, {most:.4g}], outside "
            f"[{low:g}, {high:g}]: {why}",
            fix=f"rescale the data to [{low:g}, {high:g}], "
            "e.g. x = (x - x.min()) / (x.max() - x.min())",
        )
