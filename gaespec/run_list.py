"""The runs under a folder, as `gaespec runs` lists them: where each is, its model and data, its
epochs done and planned, and its last epoch's validation metrics; a damaged run says what is wrong.

Reads TOML and JSON only; never imports torch.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from gaespec import runs as layout
from gaespec.errors import GaespecError, RunError

DEPTH = 6  # folder levels searched below the given one: runs/bench/runs/MODEL/CONFIG/dN is 5
MISSING = "-"  # a table cell with nothing to show


def looks_like_run(path: Path) -> bool:
    """Whether `path` is (or was meant to be) a run folder: it holds spec.toml or metrics.jsonl."""
    return (path / layout.SPEC).is_file() or (path / layout.METRICS).is_file()


def require_run(path: str | os.PathLike) -> Path:
    """`path` as a Path when it is a run folder (spec.toml and metrics.jsonl), else RunError."""
    path = Path(path)
    lacking = [name for name in (layout.SPEC, layout.METRICS) if not (path / name).is_file()]
    if lacking:
        raise RunError(
            f"'{path}' is not a gaespec run: it has no {' and no '.join(lacking)}",
            fix="give a run folder written by `gaespec train` (see `gaespec runs`)",
        )
    return path


def find_runs(folder: str | os.PathLike, depth: int = DEPTH) -> list[Path]:
    """The run folders at or below `folder` (at most `depth` levels down), sorted; a run's own
    subfolders are not searched."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunError(
            f"'{folder}' is not a folder", fix="give the folder that holds the runs, e.g. runs"
        )
    found: list[Path] = []

    def visit(path: Path, level: int) -> None:
        if looks_like_run(path):
            found.append(path)
            return
        if level == depth:
            return
        try:
            children = sorted(p for p in path.iterdir() if p.is_dir() and p.name[:1] != ".")
        except OSError:  # a folder this user may not read holds no run they can list
            return
        for child in children:
            visit(child, level + 1)

    visit(folder, 0)
    return found


@dataclass(frozen=True)
class RunSummary:
    """One row of `gaespec runs`.

    Attributes:
        select: the objective (or term) whose validation mean picks the best weights;
            `selected` its value after the last epoch.
        recon: the reconstruction term's name, if the model has one; `recon_value` its value.
        problem: why the run cannot be summarized (the other fields are then empty).
    """

    path: Path
    model: str = ""
    data: str = ""
    epochs_done: int = 0
    epochs_planned: int = 0
    select: str = ""
    selected: float | None = None
    recon: str | None = None
    recon_value: float | None = None
    problem: str | None = None


def _recon_term(spec) -> str | None:
    """The model's reconstruction term: the first of kind "reconstruction", else one named recon."""
    kinds = {name: term.kind for name, term in spec.terms.items()}
    first = next((name for name, kind in kinds.items() if kind == "reconstruction"), None)
    return first or ("recon" if "recon" in kinds else None)


def _number(value, what: str, path: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RunError(f"'{path}' is damaged: its {what} is {value!r}, not a number")
    return float(value)


def _summary(path: Path) -> RunSummary:
    from gaespec.spec.load import load_spec

    path = require_run(path)
    spec = load_spec(path / layout.SPEC)
    training = layout.read_json(path / layout.TRAINING)
    records = layout.read_metrics(path / layout.METRICS)
    planned = layout.counter(training.get("epochs"), "epochs", path / layout.TRAINING)
    data = training.get("data", spec.train.data)
    select = training.get("select") or spec.train.select or spec.all_objectives[0].name
    if not isinstance(select, str):
        raise RunError(f"'{path / layout.TRAINING}' is damaged: its select is {select!r}")
    recon = _recon_term(spec)
    if not records:
        return RunSummary(path, spec.model.name, str(data), 0, planned, select, recon=recon)
    last = records[-1]
    where = path / layout.METRICS
    done = layout.counter(last.get("epoch"), "last epoch", where)
    validation = last.get("validation")
    if not isinstance(validation, dict):
        raise RunError(f"'{where}' is damaged: its last line has no validation metrics")
    values = {name: _number(v, f"validation {name}", where) for name, v in validation.items()}
    return RunSummary(
        path,
        spec.model.name,
        str(data),
        done,
        planned,
        select,
        values.get(select),
        recon,
        values.get(recon) if recon else None,
    )


def summarize(path: str | os.PathLike) -> RunSummary:
    """The summary of one run folder; a damaged one gives a summary whose `problem` says why."""
    try:
        return _summary(Path(path))
    except GaespecError as error:
        return RunSummary(Path(path), problem=str(error))


def _value(value: float | None) -> str:
    if value is None:
        return MISSING
    return f"{value:.6g}" if math.isfinite(value) else str(value)


HEADER = ("run", "model", "data", "epochs", "selected (validation)", "recon")


def runs_table(summaries: list[RunSummary]) -> str:
    """The summaries as an aligned text table, one line per run, a damaged run's reason in place
    of its columns."""
    rows = [
        (
            str(s.path),
            s.model,
            s.data,
            f"{s.epochs_done}/{s.epochs_planned}",
            f"{s.select} {_value(s.selected)}",
            _value(s.recon_value),
        )
        for s in summaries
        if s.problem is None
    ]
    widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]
    widths[0] = max([widths[0], *(len(str(s.path)) for s in summaries)])

    def line(cells) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))

    lines = [line(HEADER).rstrip()]
    rows_left = iter(rows)
    for s in summaries:
        if s.problem is None:
            lines.append(line(next(rows_left)).rstrip())
        else:
            lines.append(f"{str(s.path).ljust(widths[0])}  damaged: {s.problem}")
    return "\n".join(lines) + "\n"
