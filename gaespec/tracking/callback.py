"""Trackers attached to a trainer: told of the run when it starts, of every epoch's record and
image grids at `epoch_end`, and closed when training stops, finished or not."""

from __future__ import annotations

import tempfile
import tomllib
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from gaespec import runs as layout
from gaespec.tracking.base import TrackedRun, Tracker, scalars
from gaespec.tracking.images import ORIGINALS, epoch_grids


def _unwrapped(model: nn.Module) -> nn.Module:
    """The model itself, out of a DistributedDataParallel wrapper if it is in one."""
    if isinstance(model, torch.nn.parallel.DistributedDataParallel):
        return model.module
    return model


class Tracking:
    """The started trackers of one run (rank 0's), fed by the trainer's `epoch_end` event.

    Attributes:
        trackers: the trackers, started. images: the validation images the grids show.
        seed: the seed of every epoch's prior samples (the run's seed), so epochs compare.
        epoch: the last epoch every tracker has logged.
    """

    def __init__(
        self, trackers: Sequence[Tracker], images: torch.Tensor, seed: int, epoch: int = 0
    ):
        self.trackers = list(trackers)
        self.images = images
        self.seed = seed
        self.epoch = epoch

    def epoch_end(self, trainer, record: dict, improved: bool) -> None:
        """Log the epoch's record and grids (made once, in a temporary folder) to every tracker."""
        values = scalars(record)
        with tempfile.TemporaryDirectory(prefix="gaespec-grids-") as folder:
            grids = epoch_grids(
                _unwrapped(trainer.model), self.images, seed=self.seed, folder=Path(folder)
            )
            for tracker in self.trackers:
                tracker.log(record["epoch"], values, grids)
        self.epoch = record["epoch"]

    def close(self, finished: bool) -> None:
        """Close every tracker. When training finished, the first error in closing is raised
        after all are closed; when it did not, errors only warn, so that the error that stopped
        training is the one reported."""
        errors = []
        for tracker in self.trackers:
            try:
                tracker.close(finished)
            except Exception as error:  # each tracker's own error types
                errors.append(error)
                if not finished:
                    warnings.warn(
                        f"closing the {tracker.name} tracker failed: {error}", stacklevel=2
                    )
        self.trackers = []
        if errors and finished:
            raise errors[0]


def tracked_run(out: Path, objectives: Sequence[str], epoch: int) -> TrackedRun:
    """The run in folder `out`, from its spec.toml and training.json (written before training)."""
    spec_toml = (out / layout.SPEC).read_text(encoding="utf-8")
    return TrackedRun(
        path=out,
        name=out.resolve().name,
        spec_toml=spec_toml,
        spec=tomllib.loads(spec_toml),
        config=layout.read_json(out / layout.TRAINING),
        objectives=tuple(objectives),
        epoch=epoch,
    )


def attach(trackers: Sequence[Tracker], trainer, out: str | Path) -> Tracking:
    """Start `trackers` on the run in folder `out` and log every epoch of `trainer` to them; the
    caller closes the result when training stops. Call it on rank 0 only."""
    images = trainer.data.validation.head(ORIGINALS)  # the same images every epoch
    if not trackers:
        return Tracking([], images, seed=0)
    run = tracked_run(Path(out), [o.name for o in trainer.objectives], trainer.epoch)
    started: list[Tracker] = []
    try:
        for tracker in trackers:
            tracker.start(run)
            started.append(tracker)
    except BaseException:
        Tracking(started, images, run.config["seed"]).close(finished=False)
        raise
    tracking = Tracking(started, images, seed=run.config["seed"], epoch=run.epoch)
    trainer.on("epoch_end", tracking.epoch_end)
    return tracking
