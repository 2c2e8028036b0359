"""The generic trainer: steps each objective's optimiser over the loss dict a model returns.

It knows nothing of any model: a model is a callable `model(x, step=, epoch=, dataset_size=)`
(the size of the training set, for terms that estimate over it) whose output has
`.losses` (objective name → scalar) and `.terms`, plus `parameter_groups()`. Each objective's
backward pass reaches only its own parameters (`backward(inputs=...)`), so an adversary's loss
never moves the encoder unless the spec says so. Data are in-memory tensors sliced by index.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from gaespec.errors import TrainingError
from gaespec.training.optimizers import make_optimizer, make_scheduler


def distributed_rank() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) when not distributed."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def epoch_order(n: int, *, seed: int, epoch: int, rank: int = 0, world_size: int = 1):
    """This rank's share of a permutation of range(n) that depends only on (seed, epoch)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(n, generator=generator)
    order = order[: n - n % world_size] if world_size > 1 else order
    return order[rank::world_size]


class Trainer:
    """Trains `model` on `data.train`, evaluating on `data.validation` after every epoch.

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
    ):
        self.model = model.to(device)
        self.device = torch.device(device)
        self.objectives = tuple(objectives)
        self.data = data
        self.batch_size, self.eval_batch_size, self.seed = batch_size, eval_batch_size, seed
        self.select = select or self.objectives[0].name
        self.rank, self.world_size = distributed_rank()
        self.progress = progress and self.rank == 0
        groups = model.parameter_groups()
        self.optimizers = {
            o.name: make_optimizer(o.optimizer, groups[o.name], f"{o.key}.optimizer")
            for o in self.objectives
        }
        self.schedulers = {
            o.name: make_scheduler(o.scheduler, self.optimizers[o.name], f"{o.key}.scheduler")
            for o in self.objectives
        }
        self.groups = groups
        self.step = 0
        self.epoch = 0
        self.best = math.inf
        self.callbacks: dict[str, list[Callable]] = {}

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
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.step, self.epoch, self.best = state["step"], state["epoch"], state["best"]

    # -- one epoch ---------------------------------------------------------------------------

    def _check_finite(self, out, where: str) -> None:
        """Stop with the non-finite terms (or, when every term is finite, the non-finite
        objectives), their values and where it happened; nothing has been saved from it yet."""
        values = {**out.terms, **out.losses}
        bad = [k for k in out.terms if not torch.isfinite(out.terms[k]).all()]
        bad = bad or [k for k in out.losses if not torch.isfinite(out.losses[k]).all()]
        if not bad:
            return
        kind = "term" if bad[0] in out.terms else "objective"
        shown = ", ".join(f"'{k}' = {values[k].detach().float().mean().item():.4g}" for k in bad)
        finite = ", ".join(f"{k} = {v.item():.4g}" for k, v in values.items() if k not in bad)
        raise TrainingError(
            f"{kind}{'s' if len(bad) > 1 else ''} {shown} {where}"
            + (f" (finite: {finite})" if finite else ""),
            fix="lower the learning rate, or check the data's range",
        )

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

    def train_step(self, x: torch.Tensor):
        """One optimiser step of every objective on batch x; each backward reaches only its own
        parameter group, then every optimiser steps. Returns the model's output."""
        out = self.model(x, step=self.step, epoch=self.epoch, dataset_size=len(self.data.train))
        self._check_finite(out, f"at step {self.step} (epoch {self.epoch + 1})")
        names = [o.name for o in self.objectives]
        for optimizer in self.optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        for j, name in enumerate(names):
            out.losses[name].backward(inputs=self.groups[name], retain_graph=j < len(names) - 1)
        for name in names:
            self.optimizers[name].step()
            scheduler = self.schedulers[name]
            if scheduler is not None and self._interval(name) == "step":
                scheduler.step()
        self.step += 1
        return out

    def train_epoch(self) -> dict[str, float]:
        """One pass over this rank's share of the training split; the mean of every term."""
        self.model.train()
        x_all = self.data.train.x
        order = epoch_order(
            len(x_all), seed=self.seed, epoch=self.epoch, rank=self.rank, world_size=self.world_size
        )
        batches = torch.split(order, self.batch_size)
        if len(batches) > 1 and len(batches[-1]) == 1:
            batches = batches[:-1]  # batch norm cannot train on a batch of one
        sums: dict[str, torch.Tensor] = {}
        seen = 0
        bar = tqdm(
            batches,
            desc=f"epoch {self.epoch + 1}",
            leave=False,
            disable=not self.progress,
            unit="batch",
            dynamic_ncols=True,
        )
        for i, index in enumerate(bar):
            out = self.train_step(x_all[index].to(self.device, non_blocking=True))
            n = len(index)
            seen += n
            for name, value in (*out.terms.items(), *out.losses.items()):
                sums[name] = sums.get(name, 0.0) + value.detach() * n
            if i % 10 == 0:
                bar.set_postfix({k: f"{v.item():.4g}" for k, v in out.losses.items()})
        bar.close()
        return {name: (total / seen).item() for name, total in sums.items()}

    def _interval(self, name: str) -> str:
        spec = next(o.scheduler for o in self.objectives if o.name == name)
        return spec.interval

    @torch.no_grad()
    def evaluate(self, split) -> dict[str, float]:
        """The mean of every term and objective over a split, in order, in eval mode."""
        self.model.eval()
        sums: dict[str, torch.Tensor] = {}
        for x in torch.split(split.x, self.eval_batch_size):
            out = self.model(
                x.to(self.device),
                step=self.step,
                epoch=self.epoch,
                dataset_size=len(self.data.train),
            )
            self._check_finite(out, f"in the evaluation after step {self.step}")
            for name, value in (*out.terms.items(), *out.losses.items()):
                # a term that differentiates keeps a graph even here: none is kept across batches
                sums[name] = sums.get(name, 0.0) + value.detach() * len(x)
        return {name: (total / len(split.x)).item() for name, total in sums.items()}

    def fit(self, epochs: int) -> None:
        """Train until `epochs` epochs are done (continuing from self.epoch after a resume)."""
        for _ in range(self.epoch, epochs):
            started = time.perf_counter()
            train = self.train_epoch()
            self._check_state_finite()
            validation = self.evaluate(self.data.validation)
            for name, scheduler in self.schedulers.items():
                if scheduler is None or self._interval(name) != "epoch":
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
