"""The zoo table: every spec trained the same few epochs on the same data, then its test MSE,
time per epoch and parameter count, as one Markdown table.

Each spec trains into its own run folder under `out`; a run that was interrupted resumes, and one
that already has the epochs asked for is only evaluated, so the command can be rerun.
"""

from __future__ import annotations

import math
import platform
from dataclasses import dataclass
from pathlib import Path

from gaespec.spec.load import load_spec


@dataclass(frozen=True)
class ZooRow:
    """One model's line of the table.

    Attributes:
        name: the spec's model name. mse: the test MSE per pixel of reconstructions from the
        posterior mean, after the last epoch. seconds: the mean time of a training epoch.
        parameters: the number of trained weights. reference: the spec's paper.
    """

    name: str
    mse: float
    seconds: float
    parameters: int
    reference: str


def zoo_row(spec_path: str | Path, *, data: str, epochs: int, out: Path, overrides=(), log=print):
    """Train (or resume, or reuse) one spec for `epochs` into out/<name> and measure it."""
    from gaespec import runs as layout
    from gaespec.metrics import reconstruction_mse
    from gaespec.training.run import train

    spec = load_spec(spec_path, list(overrides))
    folder = out / spec.model.name
    done = (folder / layout.LAST).exists()
    run = train(spec, data=data, epochs=epochs, out=folder, resume=done, progress=False, log=log)
    seconds = [record["seconds"] for record in run.metrics]
    return ZooRow(
        name=spec.model.name,
        mse=reconstruction_mse(run.model.eval(), run.data.test.x),
        seconds=sum(seconds) / len(seconds),
        parameters=sum(p.numel() for p in run.model.parameters()),
        reference=spec.model.reference,
    )


def markdown(rows: list[ZooRow], *, data: str, epochs: int, command: str) -> str:
    """The table, with the command that made it and the machine it ran on."""
    lines = [
        f"Made by `{command}` on {platform.processor() or platform.machine()} "
        f"({platform.system()}); {epochs} epoch(s) on `{data}`. Test MSE per pixel of the "
        "reconstructions from the posterior mean after the last epoch; seconds per training "
        "epoch; trained parameters.",
        "",
        "| model | test MSE | s / epoch | parameters | reference |",
        "|---|---:|---:|---:|---|",
    ]
    for row in rows:
        mse = f"{row.mse:.5f}" if math.isfinite(row.mse) else "—"
        lines.append(
            f"| {row.name} | {mse} | {row.seconds:.1f} | {row.parameters:,} | {row.reference} |"
        )
    return "\n".join(lines) + "\n"
