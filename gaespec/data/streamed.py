"""Splits streamed from files, for data too large for memory: each batch is decoded when needed.

A streamed source (`folder:DIR?stream=1&workers=K`) gives a `Stream`: its samples, read one at a
time, and one `torch.utils.data.DataLoader` over them with K worker processes (kept alive between
passes), shared by its train, validation and test `StreamedSplit`s. A pass asks for the batches
by index, in the order the trainer chose, so a streamed split yields exactly the batches the
in-memory path slices, value for value: the workers decode uint8 pixels, which travel to the
device as they are (in pinned memory on a GPU, a quarter of the bytes of float32) and become
float32 there through the table of the 256 values that `check_array` gives them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from gaespec.data.checks import check_array, shape_text
from gaespec.errors import DataError

CHUNK = 256  # samples per batch where the caller names no size (x, head)


class Samples(Protocol):
    """Samples read one at a time (gaespec.data.folder.ImageFiles is one)."""

    shape: tuple[int, ...]

    def __len__(self) -> int: ...

    def read(self, i: int) -> np.ndarray:
        """Sample i, uint8 of `shape`."""
        ...


def pixel_values() -> torch.Tensor:
    """The float32 value of each uint8 pixel 0…255, as check_array computes it: (256,)."""
    return torch.from_numpy(check_array(np.arange(256, dtype=np.uint8)[None], source="pixels")[0])


class SampleDataset(Dataset):
    """`samples` as a torch Dataset: item i is sample i as a uint8 tensor, or the DataError that
    reading it raised (handed to the main process whole, to be raised there)."""

    def __init__(self, samples: Samples):
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> torch.Tensor | DataError:
        try:
            return torch.from_numpy(self.samples.read(i))
        except DataError as error:
            return error


def _collate(items: list[torch.Tensor | DataError]) -> torch.Tensor | DataError:
    """One batch (B, *shape) of the items, or the first error among them."""
    error = next((item for item in items if isinstance(item, DataError)), None)
    return error if error is not None else default_collate(items)


class _Batches:
    """A batch sampler whose list of index lists is set anew before each pass, so that a loader
    with persistent workers serves every pass."""

    def __init__(self):
        self.batches: list[list[int]] = []

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class Stream:
    """A streamed source: its samples and the loader that reads batches of them with `workers`
    processes (0: in the main process); one pass at a time.

    Attributes:
        samples: the samples, read one at a time. workers: the loader's worker processes.
    """

    def __init__(self, samples: Samples, *, workers: int = 0):
        self.samples, self.workers = samples, workers
        self._batches = _Batches()
        self._loaders: dict[bool, DataLoader] = {}  # by pin_memory
        self._passes = 0
        self._values: dict[torch.device, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def _loader(self, pin: bool) -> DataLoader:
        if pin not in self._loaders:
            self._loaders[pin] = DataLoader(
                SampleDataset(self.samples),
                batch_sampler=self._batches,
                num_workers=self.workers,
                collate_fn=_collate,
                pin_memory=pin,
                persistent_workers=self.workers > 0,
                # its own: each pass draws a seed for the workers, which must not move the
                # global generator that the model's sampling draws from
                generator=torch.Generator(),
            )
        return self._loaders[pin]

    def read(
        self, batches: Sequence[Sequence[int]], device: torch.device
    ) -> Iterator[torch.Tensor]:
        """The samples of each index list in `batches`, one float32 batch at a time, on `device`.

        A pass that another one began after it refuses to go on (the workers serve one)."""
        device = torch.device(device)
        pin = device.type == "cuda"
        self._passes += 1
        this = self._passes
        if device not in self._values:
            self._values[device] = pixel_values().to(device)
        values = self._values[device]
        self._batches.batches = [list(map(int, index)) for index in batches]
        pixels = iter(self._loader(pin))
        for _ in range(len(batches)):
            if self._passes != this:
                raise RuntimeError("a later pass over the same stream began before this one ended")
            try:
                batch = next(pixels)
                if isinstance(batch, DataError):
                    raise DataError(batch.message, fix=batch.fix) from None
            except Exception:
                # the error's traceback holds this frame: were the workers still reachable from
                # it, the garbage collector would stop them late (5 s each); stop them now
                del pixels
                self._loaders.pop(pin, None)
                raise
            yield values[batch.to(device, non_blocking=True).long()]


@dataclass(frozen=True, eq=False)
class StreamedSplit:
    """One split of a streamed source: its samples' indices into the stream, decoded batch by
    batch; the in-memory `Split`'s interface, with `batches` for training.

    Attributes:
        stream: the source's samples and loader, shared by its splits.
        index: this split's samples, as indices into the stream (N,).
        y: int64 labels (N,), or None when the source has none.
    """

    stream: Stream
    index: np.ndarray
    y: torch.Tensor | None

    @classmethod
    def take(cls, stream: Stream, y: np.ndarray | None, index: np.ndarray) -> StreamedSplit:
        """The samples (and labels) of `stream` (and `y`) at `index`, as Split.take gives them."""
        labels = None if y is None else torch.from_numpy(y[index]).long()
        return cls(stream, np.asarray(index, dtype=np.int64), labels)

    def __len__(self) -> int:
        return len(self.index)

    def __repr__(self) -> str:
        labels = "with labels" if self.y is not None else "no labels"
        workers = self.stream.workers
        return f"StreamedSplit({len(self)} × {shape_text(self.shape)}, {labels}, {workers} workers)"

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one sample, e.g. (3, 64, 64), known without decoding any."""
        return tuple(self.stream.samples.shape)

    def extremes(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Bounds of the values, 0 and 1: uint8 pixels divided by 255 lie in [0, 1] by
        construction, so none is read."""
        return torch.tensor(0.0), torch.tensor(1.0)

    def batches(
        self, order: torch.Tensor, sizes: Sequence[int], device: str | torch.device = "cpu"
    ) -> Iterator[torch.Tensor]:
        """The batches x[order] in pieces of `sizes` (their sum may fall short of len(order)),
        each on `device`: what Placement(split.x, device).batches(order, sizes) yields."""
        order = np.asarray(order[: sum(sizes)], dtype=np.int64)
        pieces = np.split(self.index[order], np.cumsum(sizes)[:-1])
        return self.stream.read(pieces, torch.device(device))

    def chunks(self, batch_size: int, device: str | torch.device = "cpu") -> Iterator[torch.Tensor]:
        """The split in order, in batches of `batch_size` (the last may be smaller), on `device`:
        torch.split(x, batch_size), one batch decoded at a time."""
        pieces = [self.index[i : i + batch_size] for i in range(0, len(self), batch_size)]
        return self.stream.read(pieces, torch.device(device))

    def head(self, n: int) -> torch.Tensor:
        """The first n samples (or all, when fewer): x[:n], decoding only those."""
        index = self.index[: max(n, 0)]
        if not len(index):
            return torch.empty((0, *self.shape))
        return next(self.stream.read([index], torch.device("cpu")))

    @property
    def x(self) -> torch.Tensor:
        """The whole split as one float32 tensor (N, *shape), decoded anew at each access: memory
        for all of it, which streaming avoids. For small splits, or metrics that need them all."""
        return torch.cat(list(self.chunks(CHUNK)))
