"""Random draws for a batch that may be one process's share of a larger one.

In data-parallel training (gaespec.training.distributed) each process holds a contiguous share
of every batch. For the run to equal one process training on the whole batch, and for every
process's random stream to stay in step, each process draws the noise of the WHOLE batch and
keeps its share's rows. Every draw a component makes for a batch goes through `batch_draw`;
outside data-parallel training (and in an emitted file) it is the plain draw.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from einops import rearrange


@dataclass
class BatchShare:
    """This process's rows [start, start + size) of a batch of `total`; total 0: all of it."""

    start: int = 0
    size: int = 0
    total: int = 0


SHARE = BatchShare()  # set by the trainer around each forward pass of a data-parallel run


def batch_draw(draw: Callable[[tuple[int, ...]], torch.Tensor], rows: int, *rest: int):
    """draw((rows, *rest)) for rows = k·b that run over a batch k times (k-major, as
    "(k b)"); when this process holds a share of b rows of a batch of B, the rows of its share
    out of draw((k·B, *rest)), so every process draws the same numbers."""
    if SHARE.total == 0 or rows % SHARE.size:
        return draw((rows, *rest))
    k = rows // SHARE.size
    whole = rearrange(draw((k * SHARE.total, *rest)), "(k n) ... -> k n ...", k=k)
    share = whole[:, SHARE.start : SHARE.start + SHARE.size]
    return rearrange(share, "k n ... -> (k n) ...")


@contextmanager
def sharing(start: int, size: int, total: int) -> Iterator[None]:
    """Within it, batch draws are those of rows [start, start + size) of a batch of `total`."""
    before = (SHARE.start, SHARE.size, SHARE.total)
    SHARE.start, SHARE.size, SHARE.total = start, size, total
    try:
        yield
    finally:
        SHARE.start, SHARE.size, SHARE.total = before
