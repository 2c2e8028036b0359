"""Run folders written by hand (spec.toml, training.json, metrics.jsonl), for the code that only
reads runs: no training needed."""

from __future__ import annotations

import json
from pathlib import Path

import gaespec
from gaespec.spec.toml_writer import spec_toml


def write_run(
    folder: Path,
    spec: str,
    records: list[dict],
    *,
    epochs: int | None = None,
    select: str = "loss",
    spec_text: str | None = None,
) -> Path:
    """A run folder of the built-in spec `spec` (or the TOML `spec_text`) with these epoch
    records in metrics.jsonl; `epochs` planned (default: as many as the records)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spec.toml").write_text(spec_text or spec_toml(gaespec.load_spec(spec)))
    training = {"data": "sklearn_digits", "epochs": epochs or len(records), "select": select}
    (folder / "training.json").write_text(json.dumps(training))
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def record(epoch: int, train: dict, validation: dict) -> dict:
    """One line of metrics.jsonl, as the trainer writes it."""
    return {
        "epoch": epoch,
        "step": 10 * epoch,
        "train": train,
        "validation": validation,
        "lr": {"loss": 0.001},
        "seconds": 0.5,
    }
