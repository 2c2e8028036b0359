"""The latent-dimension figure of the study: test MSE, FID, classification and clustering
accuracy against the latent dimension, one line per model, as a PNG."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gaespec.atomic import atomic_write

# (title, the value a selected run gives for it, the table that selects that run)
PANELS = (
    ("test MSE", lambda run, sampler: run["test"]["mse"], "table1"),
    ("FID of {sampler} samples", None, "table3"),
    ("classification accuracy", lambda run, _: run["test"]["classification"]["mean"], "table2"),
    ("clustering accuracy", lambda run, _: run["test"]["clustering"]["mean"], "table2"),
)


def _fid_of(run: Mapping[str, Any], sampler: str) -> float | None:
    fid = run["test"]["samplers"].get(sampler, {}).get("fid")
    return None if not fid else fid.get("value")


def latent_figure(
    sections: Mapping[int, Mapping[str, Any]], path: str | Path, *, sampler: str | None
) -> Path:
    """Write the figure of the bench's sections (latent dim → tables, as `tables.markdown` takes
    them) to `path`; the FID panel shows `sampler`'s images (none: the panel says so)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: a file only
    import matplotlib.pyplot as plt

    dims = sorted(sections)
    figure, axes = plt.subplots(1, 4, figsize=(16, 3.8), constrained_layout=True)
    for axis, (title, value, table) in zip(axes, PANELS, strict=True):
        axis.set_title(title.format(sampler=sampler))
        axis.set_xlabel("latent dimension")
        axis.set_xscale("log", base=2)
        axis.set_xticks(dims, [str(d) for d in dims])
        lines: dict[str, tuple[list[int], list[float]]] = {}
        for dim in dims:
            for entry in sections[dim][table]:
                if table == "table3":
                    chosen, run = entry
                    got = _fid_of(run, sampler) if chosen == sampler else None
                else:
                    run = entry
                    got = value(run, sampler)
                if got is not None:
                    xs, ys = lines.setdefault(run["model"], ([], []))
                    xs.append(dim)
                    ys.append(got)
        for model, (xs, ys) in sorted(lines.items()):
            axis.plot(xs, ys, marker="o", label=model)
        if not lines:
            axis.text(0.5, 0.5, "not measured", ha="center", va="center", transform=axis.transAxes)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, loc="outside right center")
    try:
        return atomic_write(path, lambda tmp: figure.savefig(tmp, format="png", dpi=100))
    finally:
        plt.close(figure)
