"""Datasets: a source string in, checked train/validation/test tensors out (see sources.py)."""

from __future__ import annotations

from gaespec.data import folder as _folder  # noqa: F401  (registers folder:DIR)
from gaespec.data.checks import check_array, check_labels, check_range
from gaespec.data.sources import Raw, known_sources, read_source, source
from gaespec.data.splits import DataSplits, Split, split_indices
from gaespec.data.streamed import Stream, StreamedSplit

__all__ = [
    "DataSplits",
    "Raw",
    "Split",
    "Stream",
    "StreamedSplit",
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
    streamed = isinstance(raw.x, Stream)  # decoded batch by batch (folder:DIR?stream=1)
    x = raw.x if streamed else check_array(raw.x, source=source)
    y = None if raw.y is None else check_labels(raw.y, n=len(x), source=source)
    indices = split_indices(
        len(x),
        seed=seed,
        sizes=raw.sizes,
        official_test=raw.official_test,
        official_splits=raw.official_splits,
    )
    take = StreamedSplit.take if streamed else Split.take
    return DataSplits(source, *(take(x, y, index) for index in indices))
