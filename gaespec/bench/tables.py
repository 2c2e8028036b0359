"""The study's tables from the bench's selected runs, as Markdown and as one long CSV.

Table 1: test MSE and FID of reconstructions (the configuration of lowest validation MSE).
Table 2: classification and clustering accuracy, mean ± standard deviation over their runs (the
configuration of highest validation classification accuracy). Table 3: FID, KID and, where the
extractor has logits, IS of each sampler's images (per sampler, the configuration of lowest
validation FID of that sampler). One section per latent dimension. Every FID names n and the
extractor, beside the floor: the FID between n test and n training images of the data itself.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

Selected = Mapping[str, Any]  # a run's result dict (see bench.py)


def _spread(metric: Mapping[str, Any] | None) -> str:
    if not metric:
        return "—"
    return f"{metric['mean']:.3f} ± {metric['std']:.3f}"


def _fid(metric: Mapping[str, Any] | None) -> str:
    return "—" if not metric or metric.get("value") is None else f"{metric['value']:.1f}"


def _kid(metric: Mapping[str, Any] | None) -> str:
    if not metric or metric.get("value") is None:
        return "—"
    if not metric.get("std"):  # one subset (n below KID's subset size): no spread to show
        return f"{metric['value']:.4f}"
    return f"{metric['value']:.4f} ± {metric['std']:.4f}"


def _is(metric: Mapping[str, Any] | None) -> str:
    if not metric or metric.get("value") is None:
        return "unavailable" if metric else "—"
    return f"{metric['value']:.2f} ± {metric.get('std', 0.0):.2f}"


def table1(rows: list[Selected]) -> list[str]:
    lines = ["| model | configuration | test MSE | FID (reconstructions) |", "|---|---|---:|---:|"]
    for run in rows:
        test = run["test"]
        lines.append(
            f"| {run['model']} | {run['configuration']} | {test['mse']:.5f} | "
            f"{_fid(test.get('reconstruction_fid'))} |"
        )
    return lines


def table2(rows: list[Selected]) -> list[str]:
    lines = [
        "| model | configuration | classification accuracy | clustering accuracy |",
        "|---|---|---:|---:|",
    ]
    for run in rows:
        test = run["test"]
        lines.append(
            f"| {run['model']} | {run['configuration']} | {_spread(test.get('classification'))} "
            f"| {_spread(test.get('clustering'))} |"
        )
    return lines


def table3(rows: list[tuple[str, Selected]]) -> list[str]:
    lines = ["| model | sampler | configuration | FID | KID | IS |", "|---|---|---|---:|---:|---:|"]
    for sampler, run in rows:
        got = run["test"]["samplers"][sampler]
        lines.append(
            f"| {run['model']} | {sampler} | {run['configuration']} | {_fid(got.get('fid'))} | "
            f"{_kid(got.get('kid'))} | {_is(got.get('is'))} |"
        )
    return lines


def markdown(
    sections: Mapping[int, Mapping[str, Any]], *, header: str, fid_note: str | None
) -> str:
    """All tables, a section per latent dimension; `sections[d]` holds "table1", "table2" (lists
    of selected runs) and "table3" (a list of (sampler, run))."""
    out = [header, ""]
    if fid_note:
        out += [fid_note, ""]
    for dim, tables in sections.items():
        out += [f"## Latent dimension {dim}", ""]
        out += ["Table 1: reconstruction (configuration of lowest validation MSE).", ""]
        out += [*table1(tables["table1"]), ""]
        out += [
            "Table 2: classification and clustering on the codes (configuration of highest "
            "validation classification accuracy), mean ± std over their runs.",
            "",
        ]
        out += [*table2(tables["table2"]), ""]
        if tables["table3"]:
            out += [
                "Table 3: generation (per sampler, the configuration of lowest validation "
                "FID of that sampler's images).",
                "",
            ]
            out += [*table3(tables["table3"]), ""]
    return "\n".join(out).rstrip("\n") + "\n"


CSV_FIELDS = [
    "table",
    "latent_dim",
    "model",
    "configuration",
    "sampler",
    "metric",
    "value",
    "spread",
    "n",
    "extractor",
]


def _csv_row(table, dim, run, sampler, metric, got):
    if got is None:
        return None
    if isinstance(got, Mapping):
        value = got.get("value", got.get("mean"))
        spread = got.get("std")
        n, extractor = got.get("n"), got.get("extractor")
    else:
        value, spread, n, extractor = got, None, None, None
    return {
        "table": table,
        "latent_dim": dim,
        "model": run["model"],
        "configuration": run["configuration"],
        "sampler": sampler or "",
        "metric": metric,
        "value": "" if value is None else repr(float(value)),
        "spread": "" if spread is None else repr(float(spread)),
        "n": "" if n is None else n,
        "extractor": extractor or "",
    }


def csv_text(sections: Mapping[int, Mapping[str, Any]]) -> str:
    """Every number of every table, one per row (CSV_FIELDS), floats written exactly."""
    rows = []
    for dim, tables in sections.items():
        for run in tables["table1"]:
            rows.append(_csv_row(1, dim, run, None, "mse", run["test"]["mse"]))
            rows.append(_csv_row(1, dim, run, None, "fid", run["test"].get("reconstruction_fid")))
        for run in tables["table2"]:
            for metric in ("classification", "clustering"):
                rows.append(_csv_row(2, dim, run, None, metric, run["test"].get(metric)))
        for sampler, run in tables["table3"]:
            for metric, got in sorted(run["test"]["samplers"][sampler].items()):
                rows.append(_csv_row(3, dim, run, sampler, metric, got))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(row for row in rows if row is not None)
    return buffer.getvalue()
