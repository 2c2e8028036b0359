"""Trackers attached to training: started once, told of every epoch, closed at the end, also when
training stops or a tracker fails to start."""

from __future__ import annotations

import pytest
from tiny import tiny_spec

import gaespec
from gaespec.runs import METRICS, read_metrics
from gaespec.tracking import Tracker, Tracking


class Recording(Tracker):
    """A tracker that writes down what it is told (gaespec's own interface, no outside tool)."""

    name = "recording"
    extra = "recording"
    packages = ()

    def __init__(self, fail: str | None = None):
        self.events: list[tuple] = []
        self.fail = fail

    def start(self, run):
        if self.fail == "start":
            raise RuntimeError("cannot start")
        self.events.append(("start", run.name, run.epoch, run.objectives, run.config["epochs"]))

    def log(self, epoch, values, images):
        self.events.append(("log", epoch, values["validation/loss"], sorted(images)))

    def close(self, finished):
        self.events.append(("close", finished))
        if self.fail == "close":
            raise RuntimeError("cannot close")


def train(tmp_path, digits, track, **options):
    return gaespec.train(
        tiny_spec("vae"),
        data=digits,
        epochs=2,
        out=tmp_path / "run",
        progress=False,
        log=lambda *_: None,
        track=track,
        **options,
    )


def test_a_tracker_hears_of_the_run_every_epoch_and_the_end(tmp_path, digits):
    recording = Recording()
    run = train(tmp_path, digits, [recording])
    losses = [r["validation"]["loss"] for r in read_metrics(run.path / METRICS)]
    grids = ["reconstructions", "samples"]
    assert recording.events == [
        ("start", "run", 0, ("loss",), 2),
        ("log", 1, losses[0], grids),
        ("log", 2, losses[1], grids),
        ("close", True),
    ]


def test_a_tracker_that_cannot_start_stops_the_run_and_closes_the_others(tmp_path, digits):
    started = Recording()
    with pytest.raises(RuntimeError, match="cannot start"):
        train(tmp_path, digits, [started, Recording(fail="start")])
    assert [e[0] for e in started.events] == ["start", "close"]
    assert started.events[-1] == ("close", False)
    assert read_metrics(tmp_path / "run" / METRICS) == []  # no epoch was trained


def test_closing_errors_raise_after_a_finished_run_and_warn_after_a_stopped_one(digits):
    first, second = Recording(fail="close"), Recording()
    with pytest.raises(RuntimeError, match="cannot close"):
        Tracking([first, second], digits.validation.x, seed=0).close(finished=True)
    assert second.events == [("close", True)]  # closed all the same
    with pytest.warns(UserWarning, match="closing the recording tracker failed: cannot close"):
        Tracking([Recording(fail="close")], digits.validation.x, seed=0).close(finished=False)


def test_the_grids_come_from_the_model_inside_a_ddp_wrapper(tmp_path):
    import torch
    import torch.distributed as dist

    from gaespec.tracking.callback import _unwrapped

    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        model = torch.nn.Linear(2, 2)
        assert _unwrapped(torch.nn.parallel.DistributedDataParallel(model)) is model
        assert _unwrapped(model) is model
    finally:
        dist.destroy_process_group()
