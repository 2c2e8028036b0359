"""Fixed train/validation/test splits, held in memory as tensors.

A source without a publisher's split is cut at random, 70/10/20 %, by a permutation seeded by the
run's seed (mnist5k: 3,500/500/1,000, sklearn_digits: 1,258/180/359). A source that ships its
splits says so (`official_splits`) and is cut in order, the same for every seed, as the Pythae
study (Chadebec et al. 2022) did: MNIST and CIFAR-10 keep the last 10,000 images of their official
training set for validation (50,000/10,000/10,000 and 40,000/10,000/10,000), CelebA keeps its
official partition (162,770/19,867/19,962). The trainer slices batches by index: no per-sample
Dataset (a streamed source's splits, gaespec.data.streamed.StreamedSplit, answer the same calls).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from gaespec.data.checks import check_range, shape_text
from gaespec.errors import DataError

if TYPE_CHECKING:
    from gaespec.data.streamed import StreamedSplit

DEFAULT_FRACTIONS = (0.7, 0.1, 0.2)  # train, validation, test
STUDY_VALIDATION = 10_000  # the last 10k of the official training set (MNIST, CIFAR-10)
_BUILT_FOR = "1×28×28"  # the benchmark ConvNet (mnist_convnet)


def default_sizes(n: int) -> tuple[int, int, int]:
    """Train, validation and test sizes for n samples: 70/10/20 %, at least one in each."""
    validation = max(1, round(DEFAULT_FRACTIONS[1] * n))
    test = max(1, round(DEFAULT_FRACTIONS[2] * n))
    return n - validation - test, validation, test


def study_sizes(n_train: int, n_test: int, *, official_train: int) -> tuple[int, int, int]:
    """Train, validation and test sizes that keep the last 10,000 of a dataset's official
    training set for validation, as the Pythae study did; a file with fewer training samples
    than the official `official_train` keeps the same share (at least one)."""
    if n_train >= official_train:
        validation = STUDY_VALIDATION
    else:
        validation = max(1, n_train * STUDY_VALIDATION // official_train)
    return n_train - validation, validation, n_test


def split_indices(
    n: int,
    *,
    seed: int,
    sizes: tuple[int, int, int] | None = None,
    official_test: bool = False,
    official_splits: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test indices into n samples, from a permutation seeded by `seed`.

    With `official_test`, the last `sizes[2]` samples are the source's own test set: they stay
    the test split, in order, and only the others are shuffled into train and validation.
    With `official_splits`, the samples are the source's own train, validation and test sets, in
    this order and of `sizes`: each split is taken as it is, in order, and `seed` plays no part.
    """
    if official_splits and sizes is None:
        raise DataError(
            f"a source of {n} samples says they are its official splits but gives no sizes",
            fix="give Raw(..., sizes=(train, validation, test)) with official_splits=True",
        )
    sizes = default_sizes(n) if sizes is None else tuple(int(s) for s in sizes)
    if sum(sizes) != n or min(sizes) < 1:
        raise DataError(
            f"cannot split {n} samples into train, validation and test of sizes "
            f"{'/'.join(map(str, sizes))}",
            fix="each split needs at least one sample and the sizes must add up to the samples",
        )
    train, validation, test = sizes
    rng = np.random.default_rng(seed)
    if official_splits:
        order = np.arange(n)
    elif official_test:
        order = np.concatenate([rng.permutation(n - test), np.arange(n - test, n)])
    else:
        order = rng.permutation(n)
    return order[:train], order[train : train + validation], order[train + validation :]


@dataclass(frozen=True, eq=False)
class Split:
    """One split in memory.

    Attributes:
        x: float32 samples (N, *shape).
        y: int64 labels (N,), or None when the source has none.
    """

    x: torch.Tensor
    y: torch.Tensor | None

    @classmethod
    def take(cls, x: np.ndarray, y: np.ndarray | None, index: np.ndarray) -> Split:
        """The samples (and labels) of `x` (and `y`) at `index`, as tensors."""
        labels = None if y is None else torch.from_numpy(y[index]).long()
        return cls(torch.from_numpy(np.ascontiguousarray(x[index], dtype=np.float32)), labels)

    def __len__(self) -> int:
        return len(self.x)

    def __repr__(self) -> str:
        labels = "with labels" if self.y is not None else "no labels"
        return f"Split({len(self)} × {shape_text(self.x.shape[1:])}, {labels})"

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one sample, e.g. (1, 28, 28)."""
        return tuple(self.x.shape[1:])

    def extremes(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The least and the greatest value."""
        return self.x.min(), self.x.max()

    def chunks(self, batch_size: int, device: str | torch.device = "cpu") -> Iterator[torch.Tensor]:
        """The split in order, in batches of `batch_size` (the last may be smaller), on `device`."""
        for x in torch.split(self.x, batch_size):
            yield x.to(device, non_blocking=True)

    def head(self, n: int) -> torch.Tensor:
        """The first n samples (or all, when fewer)."""
        return self.x[:n]


@dataclass(frozen=True, eq=False)
class DataSplits:
    """A data source split into train, validation and test.

    Attributes:
        source: the source string it was loaded from.
        train: the training split (shuffled order, or the publisher's for official splits).
        validation: the split for model selection.
        test: the split for the reported numbers and figures.
    """

    source: str
    train: Split | StreamedSplit
    validation: Split | StreamedSplit
    test: Split | StreamedSplit

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one sample, e.g. (1, 28, 28)."""
        return self.train.shape

    def check(self, expect_shape: tuple[int, ...], *, low: float, high: float, why: str) -> None:
        """Raise DataError unless samples have shape `expect_shape` and values in [low, high]."""
        expect_shape = tuple(int(n) for n in expect_shape)
        if self.shape != expect_shape:
            fix = f"--set input.shape=[{','.join(map(str, self.shape))}]"
            if self.shape[-2:] != expect_shape[-2:] or len(self.shape) != len(expect_shape):
                fix += (
                    f"; the mnist_convnet nets are built for {_BUILT_FOR} only, so other "
                    'shapes need encoder.arch = "mlp" and decoder.arch = "mlp"'
                )
            raise DataError(
                f"data {self.source!r} has samples of shape {shape_text(self.shape)} but the "
                f"spec expects {shape_text(expect_shape)} (key input.shape)",
                fix=fix,
            )
        # the extremes of each split stand in for all of its values: the check reads min and max
        splits = (self.train, self.validation, self.test)
        extremes = torch.stack([v for s in splits for v in s.extremes()])
        check_range(extremes, low=low, high=high, source=self.source, why=why)
