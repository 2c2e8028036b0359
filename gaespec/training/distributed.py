"""Data-parallel training under torchrun: one process per device, each holding a share of every
batch, the gradients summed over processes before each optimiser step.

The spec's `batch_size` is the GLOBAL batch: each process takes a contiguous share of each batch
(sizes differing by one at most) and draws the noise of the whole batch, keeping its share's rows
(gaespec.components.noise), so a run on P processes equals, up to rounding, one process training
on the same batches. Each process's gradient of its share's mean loss is weighted by its share
of the batch and the weighted gradients are summed over processes (one all-reduce of every
parameter's gradient, flattened, per step), which is the gradient of the whole batch's mean.
Validation is split the same way and its sums reduced. Weights start from process 0's, the random
state is process 0's after every epoch, and only process 0 writes.

What cannot be split this way is refused (`refuse_unsplittable`): terms that estimate over the
batch as a whole, and modules whose state each process would move apart. Batch norm normalises
over each process's share (torch's SyncBatchNorm, on GPUs, over the whole batch); its running
statistics are averaged over processes after each epoch.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from gaespec.components.noise import sharing
from gaespec.errors import TrainingError

# kinds whose computation couples the samples of a batch, or whose state each process would move
# on its own: what data-parallel training would get wrong, and why
UNSPLITTABLE = {
    "mmd": "its MMD estimate is a U-statistic over the whole batch's codes",
    "total_correlation": "its minibatch-weighted estimate pairs every code of the batch",
    "index_code_mi": "its minibatch-weighted estimate pairs every code of the batch",
    "dimension_wise_kl": "its minibatch-weighted estimate pairs every code of the batch",
    "permuted_code_ce": "it permutes codes across the whole batch",
    "density_ratio_tc": "its critic reads codes permuted across the whole batch",
    "vq_codebook_ema": "each process would move its codebook's moving averages on its own",
}


def environment() -> tuple[int, int, int]:
    """(rank, local rank, world size) from torchrun's environment; (0, 0, 1) without it."""
    return (
        int(os.environ.get("RANK", 0)),
        int(os.environ.get("LOCAL_RANK", 0)),
        int(os.environ.get("WORLD_SIZE", 1)),
    )


def local_device(device: str) -> str:
    """The device of this process: under torchrun on GPUs, the GPU of its local rank."""
    _, local, world = environment()
    if world > 1 and torch.device(device).type == "cuda":
        if local >= torch.cuda.device_count():
            raise TrainingError(
                f"local rank {local} has no GPU: this machine has {torch.cuda.device_count()}",
                key="--nproc-per-node",
                fix=f"start at most {torch.cuda.device_count()} processes per node",
            )
        return f"cuda:{local}"
    return device


def refuse_unsplittable(spec) -> None:
    """Raise, naming the spec's key, when a part of it cannot train data-parallel."""
    declared = {f"terms.{n}": t for n, t in spec.terms.items()}
    declared |= {f"modules.{n}": m for n, m in spec.modules.items()}
    for key, decl in declared.items():
        why = UNSPLITTABLE.get(decl.kind)
        if why is not None:
            raise spec.error(
                f"'{decl.kind}' cannot train data-parallel: {why}",
                f"{key}.kind",
                cls=TrainingError,
                fix="train it as one process, without torchrun",
            )
        if getattr(decl, "restart_after", 0):
            raise spec.error(
                f"'{decl.kind}' with restarts cannot train data-parallel: each process would "
                "restart idle codewords at codes of its own",
                f"{key}.restart_after",
                cls=TrainingError,
                fix=f"set {key}.restart_after = 0, or train as one process, without torchrun",
            )


@dataclass(frozen=True)
class Share:
    """This process's rows [start, start + size) of a batch of `total`."""

    start: int
    size: int
    total: int

    def drawing(self):
        """The context in which batch draws are this share's rows of the whole batch's."""
        return sharing(self.start, self.size, self.total)


def share(total: int, rank: int, world_size: int) -> Share:
    """Process `rank`'s contiguous share of a batch of `total` (the first total % world_size
    processes take one sample more)."""
    size, extra = divmod(total, world_size)
    return Share(rank * size + min(rank, extra), size + (rank < extra), total)


def split(
    order: torch.Tensor, sizes: list[int], rank: int, world_size: int
) -> tuple[torch.Tensor, list[int], list[Share]]:
    """Process `rank`'s part of the batches `sizes` of `order`: its indices, its batch sizes and
    its share of each batch."""
    shares, pieces, begin = [], [], 0
    for total in sizes:
        part = share(total, rank, world_size)
        shares.append(part)
        pieces.append(order[begin + part.start : begin + part.start + part.size])
        begin += total
    return torch.cat(pieces) if pieces else order[:0], [s.size for s in shares], shares


class DataParallel:
    """The process group of a torchrun launch, and what the trainer does with it.

    Attributes: rank, world_size; owner: whether this object made the group (and ends it).
    """

    def __init__(self, device: torch.device):
        self.rank, _, self.world_size = environment()
        self.owner = not dist.is_initialized()
        if self.owner:
            backend = "nccl" if device.type == "cuda" else "gloo"
            if device.type == "cuda":
                torch.cuda.set_device(device)
            dist.init_process_group(backend)
        self.device = device

    @classmethod
    def from_environment(cls, device: torch.device) -> DataParallel | None:
        """The group when torchrun started several processes, else None."""
        return cls(device) if environment()[2] > 1 else None

    def close(self) -> None:
        """Wait for every process, then end the group (if this object made it)."""
        if self.owner and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()

    # -- batches ----------------------------------------------------------------------------

    def split(
        self, order: torch.Tensor, sizes: list[int]
    ) -> tuple[torch.Tensor, list[int], list[Share]]:
        """This process's part of batches `sizes` of `order` (see `split`)."""
        return split(order, sizes, self.rank, self.world_size)

    # -- reductions -------------------------------------------------------------------------

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The tensor summed over processes (in place, and returned)."""
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def any(self, flag: bool) -> bool:
        """Whether `flag` holds on any process."""
        return bool(self.sum(torch.tensor([float(flag)], device=self.device)) > 0)

    def reduce_gradients(self, parameters: Iterable[nn.Parameter], weight: float) -> None:
        """Each gradient ← Σ over processes of weight · gradient (one flattened all-reduce)."""
        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads]).mul_(weight)
        self.sum(flat)
        for g, reduced in zip(grads, torch.split(flat, [g.numel() for g in grads]), strict=True):
            g.copy_(reduced.view_as(g))

    # -- keeping the processes alike -------------------------------------------------------

    def broadcast_state(self, model: nn.Module) -> None:
        """Every process takes process 0's weights and buffers."""
        for tensor in (*model.parameters(), *model.buffers()):
            dist.broadcast(tensor.data, src=0)

    def average_running_statistics(self, model: nn.Module) -> None:
        """Batch norms' running means and variances averaged over processes."""
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.track_running_stats:
                for tensor in (module.running_mean, module.running_var):
                    if tensor is not None:
                        self.sum(tensor).div_(self.world_size)

    def broadcast_random_state(self) -> None:
        """Every process takes process 0's random state (CPU, and its own GPU's)."""
        state = torch.get_rng_state().to(self.device)
        dist.broadcast(state, src=0)
        torch.set_rng_state(state.cpu())
        if self.device.type == "cuda":
            state = torch.cuda.get_rng_state(self.device).to(self.device)
            dist.broadcast(state, src=0)
            torch.cuda.set_rng_state(state.cpu(), self.device)
