"""The generic trainer: steps each objective's optimiser over the loss dict a model returns.

It knows nothing of any model: a model is a callable `model(x, step=, epoch=, dataset_size=)`
(the size of the training set, for terms that estimate over it) whose output has
`.losses` (objective name → scalar) and `.terms`, plus `parameter_groups()`. Each objective's
backward pass reaches only its own parameters (`backward(inputs=...)`), so an adversary's loss
never moves the encoder unless the spec says so. Data are in-memory tensors sliced by index,
or a streamed split's own batches (the same indices, in the same order).

The step never waits for the device: each step's terms go into a device-side table, and the host
looks at it every `check_every` steps and at the end of each epoch (before anything is saved), so
a GPU's queue stays full. When a value is not finite, the error names the first step where one
was, with every term's value at that step. The fast paths of `[train]` (precision,
channels_last, compile, conv_as_matmul) are options of the trainer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator

import torch
from tqdm.auto import tqdm

from gaespec.data.streamed import StreamedSplit
from gaespec.errors import TrainingError
from gaespec.training.conv_matmul import lower_convolutions
from gaespec.training.distributed import DataParallel, Share, environment
from gaespec.training.fused_adam import FusedAdamStep
from gaespec.training.optimizers import make_optimizer, make_scheduler
from gaespec.training.placement import Placement
from gaespec.training.precision import Precision

CHECK_EVERY = 50  # optimiser steps between the host's looks at the device-side values
PROGRESS_EVERY = 1.0  # seconds between updates of the progress bar's figures (each syncs)


def epoch_order(n: int, *, seed: int, epoch: int) -> torch.Tensor:
    """A permutation of range(n) that depends only on (seed, epoch)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator)


def batch_sizes(n: int, batch_size: int, processes: int = 1) -> list[int]:
    """The sizes of an epoch's batches of n samples; a last batch too small to give each
    process two samples (batch norm cannot train on one) is left out."""
    sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    if len(sizes) > 1 and sizes[-1] < 2 * processes:
        sizes = sizes[:-1]
    return sizes


class Trainer:
    """Trains `model` on `data.train`, evaluating on `data.validation` after every epoch.

    Fast paths (each off by default, each an option of `[train]`): `precision` "bf16" or "fp16"
    (gaespec.training.precision), `channels_last` (conv weights and image batches in NHWC
    layout), `compile` (the encoder and decoder nets through `torch.compile`), `conv_as_matmul`
    (convolutions on small maps as matmuls: gaespec.training.conv_matmul).

    Under torchrun (WORLD_SIZE > 1) it trains data-parallel (gaespec.training.distributed):
    `batch_size` is the global batch, each process takes its share of every batch, and the
    gradients are summed over processes before each step. `parallel` is the process group to use
    (by default one is made from torchrun's environment).

    Attributes:
        step: optimiser steps taken (what schedules count); epoch: epochs completed.
        best: the lowest validation total of the selected objective so far.
    """

    def __init__(
        self,
        model,
        objectives,
        data,
        *,
        batch_size: int,
        eval_batch_size: int = 500,
        seed: int = 0,
        select: str | None = None,
        device: str | torch.device = "cpu",
        progress: bool = True,
        precision: str = "fp32",
        channels_last: bool = False,
        compile: bool = False,
        conv_as_matmul: bool = False,
        check_every: int = CHECK_EVERY,
        parallel: DataParallel | None = None,
    ):
        self.device = torch.device(device)
        self.world_size = parallel.world_size if parallel else environment()[2]
        if batch_size < 2 * self.world_size:
            raise TrainingError(
                f"batch_size {batch_size} gives some of the {self.world_size} processes fewer "
                "than two samples of each batch",
                key="train.batch_size",
                fix=f"set train.batch_size to {2 * self.world_size} or more (it is the batch of "
                "all processes together)",
            )
        self.parallel = parallel or DataParallel.from_environment(self.device)
        self.rank = self.parallel.rank if self.parallel else 0
        self.precision = Precision(precision, self.device)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.to(device, memory_format=self.memory_format)
        if self.parallel:
            if self.device.type == "cuda":  # batch statistics over the whole batch
                torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
            self.parallel.broadcast_state(self.model)
        if conv_as_matmul:
            lower_convolutions(self.model)
        if compile:
            for name in ("encoder", "decoder"):
                getattr(self.model, name).compile()
        self.objectives = tuple(objectives)
        self.data = data
        self.batch_size, self.eval_batch_size, self.seed = batch_size, eval_batch_size, seed
        self.select = select or self.objectives[0].name
        self.progress = progress and self.rank == 0
        self.check_every = check_every
        groups = model.parameter_groups()
        self.optimizers = {
            o.name: make_optimizer(o.optimizer, groups[o.name], f"{o.key}.optimizer")
            for o in self.objectives
        }
        # each optimiser's step: Adam's fused kernel called directly where it is plain Adam
        self._stepping = {name: FusedAdamStep(o) for name, o in self.optimizers.items()}
        self.schedulers = {
            o.name: make_scheduler(o.scheduler, self.optimizers[o.name], f"{o.key}.scheduler")
            for o in self.objectives
        }
        self.intervals = {
            o.name: o.scheduler.interval if o.scheduler is not None else None
            for o in self.objectives
        }
        self.groups = groups
        # every parameter an objective trains, once, in the same order on every process
        self._parameters = list({id(p): p for g in groups.values() for p in g}.values())
        # what each objective's backward reaches: its own group; None (all of the graph's
        # weights: the same gradients, without the engine's walk to restrict them) where one
        # objective trains every weight that takes gradients
        trainable = {id(p) for p in self.model.parameters() if p.requires_grad}
        self._inputs = {
            name: None if len(groups) == 1 and {id(p) for p in group} == trainable else group
            for name, group in groups.items()
        }
        self.step = 0
        self.epoch = 0
        self.best = math.inf
        self.callbacks: dict[str, list[Callable]] = {}
        self._placement: Placement | None = None
        # the steps' values not yet looked at (every term and objective, on the device), their
        # batch sizes, and the batch-weighted sum of the values looked at, since the epoch began
        self._values: list[tuple[torch.Tensor, ...]] = []
        self._sizes: list[int] = []
        self._sums: torch.Tensor | None = None
        self._seen = 0
        self._names: tuple[str, ...] = ()  # of the values: terms, then objectives
        self._term_names: tuple[str, ...] = ()
        self._first_step = 0  # the step of self._values[0]

    # -- events ---------------------------------------------------------------------------------

    def on(self, event: str, fn: Callable) -> None:
        """Call fn(trainer, **info) at `event`: "epoch_end" (info: record, improved)."""
        self.callbacks.setdefault(event, []).append(fn)

    def fire(self, event: str, **info) -> None:
        """Run the callbacks of `event`."""
        for fn in self.callbacks.get(event, []):
            fn(self, **info)

    # -- state ------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Everything a resumed run needs: weights, optimisers, schedulers, RNG, counters."""
        state = {
            "model": self.model.state_dict(),
            "optimizers": {n: o.state_dict() for n, o in self.optimizers.items()},
            "schedulers": {n: s.state_dict() for n, s in self.schedulers.items() if s is not None},
            "rng": {"torch": torch.get_rng_state()},
            "step": self.step,
            "epoch": self.epoch,
            "best": self.best,
        }
        if self.precision.scaler is not None:
            state["scaler"] = self.precision.state_dict()
        if torch.cuda.is_available():
            state["rng"]["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore what state_dict gave."""
        self.model.load_state_dict(state["model"])
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        for name, scheduler in self.schedulers.items():
            if scheduler is not None:
                scheduler.load_state_dict(state["schedulers"][name])
        self.precision.load_state_dict(state.get("scaler", {}))
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.step, self.epoch, self.best = state["step"], state["epoch"], state["best"]

    # -- finiteness ---------------------------------------------------------------------------

    @staticmethod
    def _raise_non_finite(values: dict[str, float], terms, where: str) -> None:
        """Stop with the non-finite terms (or, when every term is finite, the non-finite
        objectives), their values and where it happened; nothing has been saved from it yet."""
        bad = [k for k in terms if not math.isfinite(values[k])]
        bad = bad or [k for k in values if not math.isfinite(values[k])]
        kind = "term" if bad[0] in terms else "objective"
        shown = ", ".join(f"'{k}' = {values[k]:.4g}" for k in bad)
        finite = ", ".join(f"{k} = {v:.4g}" for k, v in values.items() if k not in bad)
        raise TrainingError(
            f"{kind}{'s' if len(bad) > 1 else ''} {shown} {where}"
            + (f" (finite: {finite})" if finite else ""),
            fix="lower the learning rate, or check the data's range",
        )

    def check_finite(self) -> None:
        """Look (one sync with the device) at the values of the steps not yet looked at; stop at
        the first step where a term or an objective was not finite."""
        if not self._values:
            return
        recent = torch.stack([torch.stack(row) for row in self._values]).float()
        finite = bool(torch.isfinite(recent).all())
        if self.parallel and self.parallel.any(not finite) and finite:
            raise TrainingError(
                f"another process of the data-parallel run met a value that is not finite "
                f"between steps {self._first_step} and {self.step} (epoch {self.epoch + 1})",
                fix="lower the learning rate, or check the data's range",
            )
        if finite:
            sizes = torch.tensor(self._sizes, dtype=recent.dtype, device=recent.device)
            sums = (recent * sizes[:, None]).sum(0)
            self._sums = sums if self._sums is None else self._sums + sums
            self._seen += sum(self._sizes)
            self._first_step += len(self._values)
            self._values, self._sizes = [], []
            return
        row = int((~torch.isfinite(recent)).any(1).nonzero()[0, 0])
        step = self._first_step + row
        values = dict(zip(self._names, recent[row].tolist(), strict=True))
        self._raise_non_finite(values, self._term_names, f"at step {step} (epoch {self.epoch + 1})")

    def _check_state_finite(self) -> None:
        """Stop when a weight or an optimiser's state (Adam's moments, say) is no longer finite,
        before anything of it is saved: an overflow there stalls training without a NaN loss."""
        names = {id(p): n for n, p in self.model.named_parameters()}
        for name, p in self.model.named_parameters():
            if not torch.isfinite(p).all():
                raise TrainingError(
                    f"weight '{name}' is not finite after step {self.step}",
                    fix="lower the learning rate, or check the data's range",
                )
        for objective, optimizer in self.optimizers.items():
            for p, state in optimizer.state.items():
                for key, value in state.items():
                    if torch.is_tensor(value) and not torch.isfinite(value).all():
                        raise TrainingError(
                            f"the optimiser of objective '{objective}' holds a non-finite "
                            f"'{key}' for weight '{names.get(id(p), '?')}' after step {self.step}",
                            fix="lower the learning rate, or check the data's range",
                        )

    # -- one step -----------------------------------------------------------------------------

    def _record(self, out, n: int) -> tuple[torch.Tensor, ...]:
        """Keep this step's terms and objectives (batch size n) on the device (no sync); look
        every check_every steps. Returns them, detached."""
        if not self._names:
            self._term_names = tuple(out.terms)
            self._names = (*out.terms, *out.losses)
        # the scalars themselves, detached (a kept graph would keep what a backward that does
        # not reach it leaves): stacked when looked at, not a stack each step
        values = tuple(v.detach() for v in (*out.terms.values(), *out.losses.values()))
        self._values.append(values)
        self._sizes.append(n)
        if len(self._values) >= self.check_every:
            self.check_finite()
        return values

    def _forward(self, x: torch.Tensor, share: Share | None):
        """The model on batch x (this process's share of a data-parallel batch)."""
        if x.dim() == 4:
            x = x.contiguous(memory_format=self.memory_format)
        size = len(self.data.train)
        if share is None:
            return self.model(x, step=self.step, epoch=self.epoch, dataset_size=size)
        with share.drawing():
            return self.model(x, step=self.step, epoch=self.epoch, dataset_size=size)

    def train_step(self, x: torch.Tensor, share: Share | None = None):
        """One optimiser step of every objective on batch x; each backward reaches only its own
        parameter group, then every optimiser steps. In a data-parallel run x is this process's
        `share` of the batch, and the gradients are the whole batch's (summed over processes)
        before the steps. Returns the model's output. Whether its values are finite is looked at
        later (check_finite), not here. The output's `tensors` are emptied and its terms and
        losses are detached: nothing of the step's graph outlives it (the part of it that only an
        earlier objective's backward passed through would otherwise stay through the next
        step)."""
        with self.precision.autocast():
            out = self._forward(x, share)
        values = self._record(out, len(x))
        out.tensors.clear()  # what the backward passes do not need goes as they run
        names = [o.name for o in self.objectives]
        # what each optimiser's zero_grad(set_to_none=True) does, without its profiler record
        # (a few hundred microseconds a step on a CPU)
        for p in self._parameters:
            p.grad = None
        for j, name in enumerate(names):
            self.precision.backward(
                out.losses[name], inputs=self._inputs[name], retain_graph=j < len(names) - 1
            )
        if self.parallel:
            self.parallel.reduce_gradients(self._parameters, share.size / share.total)
        for name in names:
            self.precision.step(self.optimizers[name], self._stepping[name])
            if self.intervals[name] == "step":
                self.schedulers[name].step()
        self.precision.update()
        self.step += 1
        terms = len(out.terms)
        out.terms = dict(zip(out.terms, values[:terms], strict=True))
        out.losses = dict(zip(out.losses, values[terms:], strict=True))
        return out

    # -- one epoch ---------------------------------------------------------------------------

    def train_epoch(self) -> dict[str, float]:
        """One pass over this rank's share of the training split; the mean of every term."""
        self.model.train()
        train = self.data.train
        if self._placement is None and not isinstance(train, StreamedSplit):
            self._placement = Placement(train.x, self.device)
        order = epoch_order(len(train), seed=self.seed, epoch=self.epoch)
        sizes = batch_sizes(len(train), self.batch_size, self.world_size)
        shares: list = [None] * len(sizes)
        if self.parallel:
            order, sizes, shares = self.parallel.split(order, sizes)
        self._values, self._sizes, self._sums, self._seen = [], [], None, 0
        self._first_step = self.step
        bar = tqdm(
            total=len(sizes),
            desc=f"epoch {self.epoch + 1}",
            leave=False,
            disable=not self.progress,
            unit="batch",
            dynamic_ncols=True,
        )
        shown = time.perf_counter()
        batches = (
            train.batches(order, sizes, self.device)
            if isinstance(train, StreamedSplit)
            else self._placement.batches(order, sizes)
        )
        for x, share in zip(batches, shares, strict=True):
            # the step's intermediate tensors go now, not after the next step has made its own
            losses = self.train_step(x, share).losses
            bar.update()
            if self.progress and time.perf_counter() - shown > PROGRESS_EVERY:
                shown = time.perf_counter()
                bar.set_postfix({k: f"{v.item():.4g}" for k, v in losses.items()})
        bar.close()
        self.check_finite()
        if self._sums is None:
            return {}
        if self.parallel:  # the sums and counts of every process
            self.parallel.sum(self._sums)
            self._seen = int(self.parallel.sum(torch.tensor([self._seen], device=self.device)))
        return dict(zip(self._names, (self._sums / self._seen).tolist(), strict=True))

    @torch.no_grad()
    def evaluate(self, split) -> dict[str, float]:
        """The mean of every term and objective over a split, in order, in eval mode (fp32)."""
        self.model.eval()
        sums: torch.Tensor | None = None
        for x, share in self._evaluation_batches(split):
            out = self._forward(x, share)
            names, terms = (*out.terms, *out.losses), tuple(out.terms)
            # a term that differentiates keeps a graph even here: none is kept across batches
            values = torch.stack(
                [v.detach().float() for v in (*out.terms.values(), *out.losses.values())]
            )
            sums = values * len(x) + (sums if sums is not None else 0.0)
            if not self.parallel and not bool(torch.isfinite(values).all()):
                self._raise_non_finite(
                    dict(zip(names, values.tolist(), strict=True)),
                    terms,
                    f"in the evaluation after step {self.step}",
                )
        means = (self.parallel.sum(sums) if self.parallel else sums) / len(split)
        if self.parallel and not bool(torch.isfinite(means).all()):  # alike on every process
            values = dict(zip(names, means.tolist(), strict=True))
            self._raise_non_finite(values, terms, f"in the evaluation after step {self.step}")
        return dict(zip(names, means.tolist(), strict=True))

    def _evaluation_batches(self, split) -> Iterator[tuple[torch.Tensor, Share | None]]:
        """The split in order in batches of eval_batch_size, on the device; in a data-parallel
        run, this process's share of each (with the share)."""
        if not self.parallel:
            for x in split.chunks(self.eval_batch_size, self.device):
                yield x, None
            return
        n = len(split)
        if min(n, self.eval_batch_size) < self.world_size:
            raise TrainingError(
                f"cannot share {min(n, self.eval_batch_size)} samples of a validation batch "
                f"between {self.world_size} processes",
                key="train.eval_batch_size",
                fix=f"give each evaluation batch at least {self.world_size} samples",
            )
        sizes = [min(self.eval_batch_size, n - i) for i in range(0, n, self.eval_batch_size)]
        order, sizes, shares = self.parallel.split(torch.arange(n), sizes)
        kept = [(size, share) for size, share in zip(sizes, shares, strict=True) if size]
        sizes, shares = [size for size, _ in kept], [share for _, share in kept]
        if isinstance(split, StreamedSplit):
            batches = split.batches(order, sizes, self.device)
        else:
            batches = (x.to(self.device) for x in torch.split(split.x[order], sizes))
        yield from zip(batches, shares, strict=True)

    def fit(self, epochs: int) -> None:
        """Train until `epochs` epochs are done (continuing from self.epoch after a resume)."""
        for _ in range(self.epoch, epochs):
            started = time.perf_counter()
            train = self.train_epoch()
            self._check_state_finite()
            if self.parallel:
                self.parallel.average_running_statistics(self.model)
            validation = self.evaluate(self.data.validation)
            if self.parallel:  # what every process draws next is what process 0 saves
                self.parallel.broadcast_random_state()
            for name, scheduler in self.schedulers.items():
                if self.intervals[name] != "epoch":
                    continue
                if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    scheduler.step(validation[name])
                else:
                    scheduler.step()
            self.epoch += 1
            score = validation[self.select]
            improved = score < self.best
            if improved:
                self.best = score
            record = {
                "epoch": self.epoch,
                "step": self.step,
                "train": train,
                "validation": validation,
                "lr": {n: o.param_groups[0]["lr"] for n, o in self.optimizers.items()},
                "seconds": round(time.perf_counter() - started, 3),
            }
            self.fire("epoch_end", record=record, improved=improved)
