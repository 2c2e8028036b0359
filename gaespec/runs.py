"""The run directory: what a training run writes, and `load_run`, which reads only TOML, JSON
and safetensors (no pickle, so a downloaded run cannot execute code)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from gaespec.errors import RunError

SPEC = "spec.toml"  # the fully resolved spec: extends merged, overrides applied
TRAINING = "training.json"  # how it was trained: data, epochs, batch size, seed, device, sizes
ENVIRONMENT = "environment.json"  # versions, platform, device, seed, start time
METRICS = "metrics.jsonl"  # one line per epoch: every term and total, train and validation
MODEL = "model.safetensors"  # the weights that scored best on the validation split
LAST = "last.safetensors"  # the whole training state after the last finished epoch
SAMPLES = "samples.png"
RECONSTRUCTIONS = "reconstructions.png"


@dataclass(frozen=True)
class RunInfo:
    """Where a loaded model came from: its run folder, its resolved spec, its training config."""

    path: Path
    spec: object
    training: dict
    epoch: int
    step: int


def _custom_archs(spec) -> list[str]:
    from gaespec.nets import is_import_path

    return [arch for arch in (spec.encoder.arch, spec.decoder.arch) if is_import_path(arch)]


def read_json(path: Path) -> dict:
    """A run's JSON file; a missing or damaged one raises RunError."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"'{path}' is missing", fix="the run folder is incomplete") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RunError(f"'{path}' is not valid JSON: {error}") from None


def read_metrics(path: Path) -> list[dict]:
    """The records of a metrics.jsonl file (none if it is missing); damage raises RunError."""
    if not path.exists():
        return []
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        return [json.loads(line) for line in lines]
    except json.JSONDecodeError as error:
        raise RunError(f"'{path}' is not valid JSON lines: {error}") from None


def _best(path: Path) -> tuple[dict, tuple[int, int]]:
    """The best weights and the (epoch, step) they were saved at."""
    from safetensors import safe_open

    if not (path / MODEL).exists():
        raise RunError(f"run '{path}' has no {MODEL} yet: no epoch has finished")
    try:
        with safe_open(str(path / MODEL), framework="pt") as f:
            metadata = f.metadata() or {}
            weights = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as error:  # safetensors raises its own error types for damaged files
        raise RunError(f"'{path / MODEL}' is not a readable safetensors file: {error}") from None
    return weights, (int(metadata.get("epoch", 0)), int(metadata.get("step", 0)))


def load_run(path: str | Path, *, which: str = "best", trust_code: bool = False):
    """The trained model of a run folder, in eval mode; `which` is "best" or "last".

    A spec naming a custom net by import path is refused unless `trust_code=True`, because
    importing it runs code from wherever the run came from.
    """
    from gaespec.compose import build
    from gaespec.spec.load import load_spec
    from gaespec.training.state import load_state

    path = Path(path)
    if not (path / SPEC).exists():
        raise RunError(
            f"'{path}' is not a gaespec run: it has no {SPEC}",
            fix="give the --out folder of `gaespec train`",
        )
    spec = load_spec(path / SPEC)
    custom = _custom_archs(spec)
    if custom and not trust_code:
        raise RunError(
            f"run '{path}' uses custom net {', '.join(custom)}; importing it runs its code",
            fix="pass trust_code=True (CLI: --trust-code) if you trust where this run came from",
        )
    training = read_json(path / TRAINING)
    model = build(spec)
    if which == "best":
        weights, counters = _best(path)
    elif which == "last":
        state = load_state(path / LAST)
        weights, counters = state["model"], (state["epoch"], state["step"])
    else:
        raise RunError(
            f"which must be 'best' or 'last', not '{which}'", name=which, choices=["best", "last"]
        )
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError as error:
        raise RunError(f"the weights in '{path}' do not fit its spec: {error}") from None
    if missing or unexpected:
        raise RunError(
            f"the weights in '{path}' do not fit its spec (missing: {missing[:3]}, "
            f"unexpected: {unexpected[:3]})"
        )
    model.eval()
    model.run = RunInfo(path, spec, training, *counters)
    return model
