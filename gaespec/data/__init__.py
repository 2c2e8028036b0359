"""Datasets: a source string in, checked train/validation/test tensors out (see sources.py)."""

from __future__ import annotations

from gaespec.data.checks import check_array, check_labels, check_range
from gaespec.data.sources import Raw, known_sources, read_source, source
from gaespec.data.splits import DataSplits, Split, split_indices

__all__ = [
    "DataSplits",
    "Raw",
    "Split",
    "check_array",
    "check_range",
    "known_sources",
    "load_data",
    "source",
    "split_indices",
]


def load_data(source: str = "mnist5k", *, seed: int = 0) -> DataSplits:
    """Load, check and split the data source `source`; the same seed gives the same split."""
    raw = read_source(source)
    x = check_array(raw.x, source=source)
    y = None if raw.y is None else check_labels(raw.y, n=len(x), source=source)
    indices = split_indices(
        len(x),
        seed=seed,
        sizes=raw.sizes,
        official_test=raw.official_test,
        official_splits=raw.official_splits,
    )
    return DataSplits(source, *(Split.take(x, y, index) for index in indices))
