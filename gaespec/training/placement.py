"""Where the training images live while a run trains, and how each batch reaches the device.

On a CPU the batches are slices of the in-memory tensor. On a GPU a training split that fits in a
quarter of the free device memory (the built-in digits take 15 MB) is copied there once, and
each batch is gathered on the device; a larger one is pinned in host memory, each batch gathered
into one of two pinned buffers and copied asynchronously, so the copy overlaps the previous
step's arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

RESIDENT_SHARE = 0.25  # of the device's free memory, at most, for a training split kept there


def fits_on_device(nbytes: int, free: int) -> bool:
    """Whether a split of `nbytes` may live on a device with `free` bytes free."""
    return nbytes <= RESIDENT_SHARE * free


class Placement:
    """The training images and the way (`mode`: "host", "resident" or "pinned") batches of them
    reach `device`."""

    def __init__(self, x: torch.Tensor, device: torch.device):
        self.device = device
        if device.type != "cuda":
            self.mode, self.x = "host", x
        elif fits_on_device(x.numel() * x.element_size(), torch.cuda.mem_get_info(device)[0]):
            self.mode, self.x = "resident", x.to(device)
        else:
            self.mode, self.x = "pinned", x.pin_memory()
            self._buffers = [torch.empty(0).pin_memory(), torch.empty(0).pin_memory()]
            self._copied = [None, None]  # the CUDA event after the last copy out of each buffer

    def batches(self, order: torch.Tensor, sizes: list[int]) -> Iterator[torch.Tensor]:
        """The batches x[order] in pieces of `sizes` (their sum may fall short of len(order)),
        each on the device."""
        order = order[: sum(sizes)]
        if self.mode == "host":
            for index in torch.split(order, sizes):
                yield self.x[index].to(self.device)
        elif self.mode == "resident":
            for index in torch.split(order.to(self.device, non_blocking=True), sizes):
                yield self.x[index]
        else:
            for i, index in enumerate(torch.split(order, sizes)):
                yield self._copy(i % 2, index)

    def _copy(self, slot: int, index: torch.Tensor) -> torch.Tensor:
        """Gather x[index] into pinned buffer `slot` (once its last copy is done), then copy it
        to the device without waiting."""
        if self._copied[slot] is not None:
            self._copied[slot].synchronize()
        shape = (len(index), *self.x.shape[1:])
        if self._buffers[slot].numel() < len(index) * self.x[0].numel():
            self._buffers[slot] = torch.empty(shape, dtype=self.x.dtype).pin_memory()
        buffer = self._buffers[slot].view(-1)[: len(index) * self.x[0].numel()].view(shape)
        torch.index_select(self.x, 0, index, out=buffer)
        out = buffer.to(self.device, non_blocking=True)
        self._copied[slot] = torch.cuda.Event()
        self._copied[slot].record()
        return out
