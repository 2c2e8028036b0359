"""A run killed by SIGKILL at random moments, then resumed until it ends, equals a run never
killed.

`gaespec train` runs in a subprocess (tests/training/crash_child.py) and is killed during epochs, at
random times, and while its files are being written (half a temporary file, a whole one not yet
renamed, one renamed just before the next is written). The spec has two objectives and a
learning-rate scheduler, so that every optimiser's and scheduler's state must survive.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from checks import assert_same_state
from safetensors import safe_open
from tiny import TINY

from gaespec.training.state import load_state

CHILD = Path(__file__).with_name("crash_child.py")
EPOCHS = 12
STEPS_PER_EPOCH = 40  # 1,258 training digits in batches of 32
KILLS = 6
ARGS = [
    "specs/models/aae.toml",
    "--data",
    "sklearn_digits",
    "--epochs",
    str(EPOCHS),
    "--quiet",
    *(a for o in TINY for a in ("--set", o)),
    "--set",
    'objectives.0.scheduler={name="steplr", step_size=50, gamma=0.5, interval="step"}',
    "--set",
    'objectives.1.scheduler={name="exponentiallr", gamma=0.9, interval="epoch"}',
]
TIMINGS = {"seconds"}  # the only part of a metrics record that may differ


def _child(out: Path, *, plan: str | None, resume: bool) -> subprocess.Popen:
    # one thread: the runs compare bit for bit only at one thread count, and two processes of
    # two threads each on a small machine make epoch times (which the kills are timed by) erratic
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    env.pop("GAESPEC_CRASH_AT", None)
    if plan is not None:
        env["GAESPEC_CRASH_AT"] = plan
    args = [*ARGS, "--out", str(out), *(["--resume"] if resume else [])]
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=Path(__file__).parents[2],
        env=env,
    )


def _run_until(proc: subprocess.Popen, *, kill_on: str | None, delay: float = 0.0) -> list[str]:
    """Read the child's output; SIGKILL it `delay` seconds after it prints `kill_on`."""
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if kill_on is not None and line.strip() == kill_on:
            timer = threading.Timer(delay, lambda: proc.send_signal(signal.SIGKILL))
            timer.start()
            proc.wait()
            timer.cancel()
            break
    proc.wait()
    proc.stdout.close()
    return lines


def _plan(
    kind: str, rng: random.Random, out: Path, epoch_seconds: float
) -> tuple[str | None, str, float]:
    """A crash plan of `kind`: (GAESPEC_CRASH_AT, the line to kill on, a delay in seconds). It
    lands one to three epochs ahead, so that the run makes progress between kills and every plan
    lands before the run's end."""
    done = load_state(out / "last.safetensors")["epoch"] if _resumable(out) else 0
    ahead = rng.randint(1, max(1, min(3, EPOCHS - done - 1)))  # the epoch it dies in
    assert done + ahead <= EPOCHS, "the plans outlasted the run: give it more epochs"
    if kind == "time":
        return None, "READY", rng.uniform(0.0, ahead * epoch_seconds)
    if kind == "step":
        return (
            f"step:{rng.randint(1, STEPS_PER_EPOCH) + STEPS_PER_EPOCH * (ahead - 1)}",
            "CRASHPOINT",
            0.0,
        )
    # the files every epoch writes: metrics.jsonl, then last.safetensors; a start also writes
    # metrics.jsonl once before its first epoch
    name = rng.choice(["metrics.jsonl", "last.safetensors"])
    nth = ahead + (name == "metrics.jsonl")
    phase = kind.split(":")[1]
    if phase == "renamed" and done + ahead == EPOCHS:
        phase = "rename"  # a plan after this one needs an epoch left to land in
    return f"write:{name}:{nth}:{phase}", "CRASHPOINT", 0.0


def _resumable(out: Path) -> bool:
    return (out / "last.safetensors").exists()


def _weights(path: Path) -> tuple[dict, dict]:
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def _records(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMINGS} for line in lines]


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("crash") / "straight"
    lines = _run_until(_child(out, plan=None, resume=False), kill_on=None)
    assert (out / "last.safetensors").exists(), "\n".join(lines)
    return out


def test_killed_and_resumed_equals_never_killed(straight, tmp_path):
    out = tmp_path / "killed"
    rng = random.Random(20261130)
    records = _records(straight / "metrics.jsonl")
    epoch_seconds = min(  # the fastest epoch: a kill at a random time lands before the end
        json.loads(line)["seconds"]
        for line in (straight / "metrics.jsonl").read_text().splitlines()
    )
    # every kind of moment at least once, in random order; the kill at a random time comes first,
    # where the most epochs are left for it to land in
    kinds = ["step", "write:partial", "write:rename", "write:renamed"]
    kinds += rng.choices(kinds, k=2)
    rng.shuffle(kinds)
    kinds = ["time", *kinds]
    landed, resumed_from = [], []
    for kind in [*kinds, None]:
        plan, kill_on, delay = _plan(kind, rng, out, epoch_seconds) if kind else (None, None, 0.0)
        proc = _child(out, plan=plan, resume=_resumable(out))
        lines = _run_until(proc, kill_on=kill_on, delay=delay)
        resumed_from += [
            int(line.split("after epoch ")[1].split()[0])
            for line in lines
            if line.startswith("resuming ")
        ]
        if proc.returncode == -signal.SIGKILL:
            landed.append(kind)
            continue
        assert proc.returncode == 0, "\n".join(lines)
        assert kind is None or kind == "time", f"{plan} ended without its crash point"
        break
    assert len(landed) >= 5 and set(kinds) <= set(landed), landed
    # the kills fell at different stages of the run, not all before its first checkpoint
    assert len(set(resumed_from) - {0}) >= 3, resumed_from
    assert not list(out.glob(".*.tmp")), "a resumed run removes what killed writes left"

    best, best_meta = _weights(out / "model.safetensors")
    expected, expected_meta = _weights(straight / "model.safetensors")
    assert_same_state(best, expected, "model.safetensors")
    assert best_meta == expected_meta
    assert_same_state(
        load_state(out / "last.safetensors"), load_state(straight / "last.safetensors")
    )
    assert _records(out / "metrics.jsonl") == records
    assert [r["epoch"] for r in records] == list(range(1, EPOCHS + 1))
