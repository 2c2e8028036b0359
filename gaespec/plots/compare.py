"""Several runs' training curves together: one panel per loss term they share, one colour per
run, validation solid and train dashed, as one PNG (`gaespec compare`)."""

from __future__ import annotations

import json
import os
import textwrap
from collections import Counter
from collections.abc import Sequence

from gaespec.errors import RunError
from gaespec.plots.curves import SPLITS, STYLE, TITLE_WIDTH, Curves, read_curves
from gaespec.plots.figure import Plot, panel_grid, save_png


def _labels(runs: list[Curves]) -> list[str]:
    """Each run's name in the legend: its model's name, or its path where two share a model."""
    models = Counter(curves.model for curves in runs)
    return [curves.model if models[curves.model] == 1 else str(curves.path) for curves in runs]


def _title(runs: list[Curves], labels: list[str], name: str) -> str:
    """The panel's title: what the name is, where the runs agree, and the settings in which they
    differ (an autoencoder's recon may be a sum of squares, a VAE's half of one)."""
    titles = {run.titles.get(name, name) for run in runs}
    title = titles.pop() if len(titles) == 1 else name
    settings = [run.settings.get(name, {}) for run in runs]
    keys = dict.fromkeys(key for s in settings for key in s)
    differing = [
        k for k in keys if len({json.dumps(s.get(k), sort_keys=True) for s in settings}) > 1
    ]
    for key in differing:
        values = "; ".join(
            f"{label}: {s.get(key, '-')}" for label, s in zip(labels, settings, strict=True)
        )
        title += "\n" + textwrap.fill(f"{key} differs: {values}", TITLE_WIDTH)
    return title


def _chosen(runs: list[Curves], terms: Sequence[str] | None) -> list[str]:
    """The panels: the asked names (terms or objectives every run has), else the shared terms."""
    if terms is None:
        shared = [name for name in runs[0].terms if all(name in c.terms for c in runs[1:])]
        if not shared:
            listed = "; ".join(f"{c.path}: {', '.join(c.terms) or 'none'}" for c in runs)
            raise RunError(
                f"the runs share no loss term ({listed})",
                fix="compare runs whose models have a term in common, or name one with --terms",
            )
        return shared
    if not terms:
        raise RunError("--terms names no term", fix="e.g. --terms recon,kl")
    for name in terms:
        for curves in runs:
            if name not in curves.series:
                raise RunError(
                    f"run '{curves.path}' has no term or objective '{name}'",
                    key="--terms",
                    name=name,
                    choices=curves.series,
                )
    return list(dict.fromkeys(terms))


def compare_runs(
    runs: Sequence[str | os.PathLike],
    out: str | os.PathLike = "compare.png",
    *,
    terms: Sequence[str] | None = None,
) -> Plot:
    """Plot the runs' curves together into the PNG `out`, one panel per term they all share (or
    per name in `terms`); returns what the panels show."""
    from matplotlib.lines import Line2D

    if not runs:
        raise RunError("no run to compare", fix="give one or more run folders")
    curves = [read_curves(run) for run in runs]
    names = _chosen(curves, terms)
    labels = _labels(curves)
    figure, axes = panel_grid(len(names), f"{', '.join(labels)}: training curves")
    colours = [f"C{i % 10}" for i in range(len(curves))]
    for axis, name in zip(axes, names, strict=True):
        axis.set_title(_title(curves, labels, name), fontsize="medium")
        for run, label, colour in zip(curves, labels, colours, strict=True):
            for split in reversed(SPLITS):  # validation first: it is drawn under train
                axis.plot(
                    run.epochs,
                    run.series[name][split],
                    STYLE[split],
                    color=colour,
                    marker="o",
                    markersize=3,
                    label=f"{label} ({split})",
                )
    handles = [Line2D([], [], color=colour) for colour in colours]
    handles += [Line2D([], [], color="black", linestyle=STYLE[split]) for split in SPLITS]
    figure.legend(handles, [*labels, *SPLITS], loc="outside right center", fontsize="small")
    return save_png(figure, axes, out)
