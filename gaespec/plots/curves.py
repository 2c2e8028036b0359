"""A run's training curves: every term and objective of metrics.jsonl, train and validation, one
panel each against the epoch, written as RUN/curves.png."""

from __future__ import annotations

import math
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

from gaespec import runs as layout
from gaespec.errors import RunError
from gaespec.plots.figure import Plot, panel_grid, save_png
from gaespec.run_list import require_run

SPLITS = ("train", "validation")
STYLE = {"train": "--", "validation": "-"}  # the same in every picture of runs
TITLE_WIDTH = 48  # characters of a panel title's line; a long loss formula wraps


@dataclass(frozen=True)
class Curves:
    """The curves of one run.

    Attributes:
        series: name → split ("train", "validation") → one value per epoch (NaN where missing),
            terms first, then objectives, as in metrics.jsonl.
        titles: name → a panel title that says what the name is (term kind, objective loss).
        terms: the names that are loss terms (the others are objectives).
        settings: name → the term's declaration in the spec, or the objective's loss, as JSON
            values: two runs' "recon" mean the same only where these agree.
    """

    path: Path
    model: str
    epochs: tuple[int, ...]
    series: dict[str, dict[str, tuple[float, ...]]]
    titles: dict[str, str]
    terms: tuple[str, ...]
    settings: dict[str, dict]


def _value(record: dict, split: str, name: str, where: str) -> float:
    values = record.get(split)
    if not isinstance(values, dict):
        raise RunError(f"{where} is damaged: it has no {split} metrics")
    value = values.get(name, math.nan)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RunError(f"{where} is damaged: its {split} {name} is {value!r}, not a number")
    return float(value)


def read_curves(run: str | os.PathLike) -> Curves:
    """The curves of the run folder `run`, from its metrics.jsonl and its resolved spec."""
    from gaespec.spec.load import load_spec

    path = require_run(run)
    spec = load_spec(path / layout.SPEC)
    records = layout.read_metrics(path / layout.METRICS)
    if not records:
        raise RunError(
            f"run '{path}' has no finished epoch yet: its {layout.METRICS} is empty",
            fix="train it for an epoch or more",
        )
    names: dict[str, None] = {}
    for record in records:
        for split in SPLITS:
            values = record.get(split)
            names.update(dict.fromkeys(values if isinstance(values, dict) else {}))
    where = [f"'{path / layout.METRICS}' line {i}" for i in range(1, len(records) + 1)]
    epochs = tuple(layout.counter(r.get("epoch"), "epoch", path / layout.METRICS) for r in records)
    series = {
        name: {
            split: tuple(_value(r, split, name, w) for r, w in zip(records, where, strict=True))
            for split in SPLITS
        }
        for name in names
    }
    kinds = {name: term.kind for name, term in spec.terms.items()}
    losses = {objective.name: objective.loss for objective in spec.all_objectives}
    titles = {}
    for name in names:
        if name in kinds:
            title = f"{name} (term: {kinds[name]})"
        elif name in losses:
            title = f"objective {name} = {losses[name]}"
        else:
            title = name
        titles[name] = textwrap.fill(title, TITLE_WIDTH)
    terms = tuple(name for name in names if name in kinds)
    settings = {name: spec.terms[name].model_dump(mode="json") for name in terms}
    settings |= {name: {"loss": losses[name]} for name in names if name in losses}
    return Curves(path, spec.model.name, epochs, series, titles, terms, settings)


def write_curves(run: str | os.PathLike, out: str | os.PathLike | None = None) -> Plot:
    """Draw the run's curves, one panel per term and objective (train dashed, validation solid),
    into `out` (default RUN/curves.png), atomically; returns what the panels show."""
    curves = read_curves(run)
    figure, axes = panel_grid(
        len(curves.series), f"{curves.model}: training curves of {curves.path}"
    )
    for axis, (name, splits) in zip(axes, curves.series.items(), strict=True):
        axis.set_title(curves.titles[name], fontsize="medium")
        for split in SPLITS:
            axis.plot(
                curves.epochs, splits[split], STYLE[split], marker="o", markersize=3, label=split
            )
        axis.legend(fontsize="small")
    return save_png(figure, axes, out if out is not None else curves.path / layout.CURVES)
