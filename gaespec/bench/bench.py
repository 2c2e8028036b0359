"""`gaespec bench`: the study's tasks over models, configurations and latent dimensions.

Three phases, each resumable because every number is kept in its run folder:
1. each run is trained (or resumed, or reused) and measured on the validation split for what
   selects its configuration: MSE (task 1), each sampler's FID (task 2, only when a model has
   several configurations), classification accuracy (task 3, the same);
2. per model, latent dim and task, the configuration is selected as the study did: lowest
   validation MSE, lowest validation FID (per sampler), highest validation accuracy;
3. the selected runs are measured on the test split (MSE and FID of reconstructions; FID, KID
   and IS per sampler; classification and clustering; interpolation grids), and the tables
   (Markdown and CSV) and the latent-dimension figure are written.
Phases 1 and 3 hand their runs to an executor (`executors.py`): this process, or Ray.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gaespec.bench.grid import Configuration, Grid, check_against_spec
from gaespec.bench.plan import BenchRun, plan
from gaespec.errors import BenchError

MEASURED = "bench.json"  # in each run folder: every number the bench measured on it
NETS = ("spec", "convnet", "resnet")  # the net family: the spec's own, or Pythae's benchmark nets


@dataclass(frozen=True)
class BenchSettings:
    """What a bench trains and measures (see `gaespec bench --help`)."""

    models: list[str]
    data: str = "mnist5k"
    latent_dims: list[int] = field(default_factory=lambda: [16])
    epochs: int = 5
    nets: str = "spec"
    samplers: list[str] = field(default_factory=lambda: ["prior", "gmm"])
    fid_samples: int = 1000
    out: Path = Path("runs/bench")
    overrides: dict[str, Any] = field(default_factory=dict)  # for every run, after the nets


def _read(folder: Path) -> dict[str, Any]:
    path = folder / MEASURED
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _measure(folder: Path, name: str, compute: Callable[[], Any]) -> Any:
    """The number `name` of the run in `folder`: read when it was measured, else computed and
    kept (atomically) beside the others."""
    from gaespec.atomic import atomic_write_text

    measured = _read(folder)
    if name not in measured:
        measured[name] = compute()
        atomic_write_text(folder / MEASURED, json.dumps(measured, indent=2, sort_keys=True))
        measured = _read(folder)  # as a later bench will read it
    return measured[name]


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Train (or resume, or reuse) one run and take the measurements the job names: plain JSON
    in and out, so any executor can run it anywhere the run folder is reachable."""
    from gaespec import evaluation
    from gaespec import runs as layout
    from gaespec.data import load_data
    from gaespec.metrics import reconstruction_mse
    from gaespec.runs import load_run
    from gaespec.spec.load import load_spec
    from gaespec.training.run import train

    folder = Path(job["folder"])
    spec = load_spec(job["model"], job["overrides"])
    started = (folder / layout.LAST).exists()
    records = layout.read_metrics(folder / layout.METRICS) if started else []
    if len(records) > job["epochs"]:
        raise BenchError(
            f"the run in '{folder}' has trained {len(records)} epochs, more than the "
            f"{job['epochs']} this bench asks for",
            key="--epochs",
            fix=f"ask for --epochs {len(records)}, or give the bench another --out",
        )
    if len(records) == job["epochs"]:  # finished: nothing to train, nothing to rewrite
        data = load_data(job["data"], seed=spec.train.seed)
    else:  # a new run, or one to resume
        run = train(
            spec,
            data=job["data"],
            epochs=job["epochs"],
            out=folder,
            resume=started,
            progress=False,
            log=lambda *_: None,
        )
        records, data = run.metrics, run.data
    seconds = [record["seconds"] for record in records[: job["epochs"]]]
    model = load_run(folder)
    n, split = job["fid_samples"], job["split"]
    measures: dict[str, Callable[[], Any]] = {
        "mse": lambda: reconstruction_mse(model, getattr(data, split).x),
        "reconstruction_fid": lambda: evaluation.reconstruction_fid(
            model, data, split, n, progress=False
        ),
        "latent": lambda: evaluation.latent_accuracies(model, data, split),
        "interpolation": lambda: str(
            _interpolation(model, getattr(data, split).x, Path(job["interpolation"]))
        ),
    }
    for sampler in job["samplers"]:
        measures[f"generation/{sampler}"] = lambda sampler=sampler: evaluation.sampler_fidelity(
            folder, model, data, sampler, split, n, progress=False
        )
    got = {}
    for name in job["measure"]:
        suffix = f"/n={n}" if name.startswith(("generation", "reconstruction_fid")) else ""
        got[name] = _measure(folder, f"{split}/{name}{suffix}", measures[name])
    return {
        "seconds_per_epoch": sum(seconds) / len(seconds),
        "parameters": sum(p.numel() for p in model.parameters()),
        "measured": got,
    }


def _interpolation(model, x, path: Path) -> Path:
    from gaespec.metrics import save_interpolations

    return save_interpolations(model, x, path)


def _fixed_overrides(settings: BenchSettings) -> dict[str, Any]:
    """The overrides every run shares: the data's shape and, unless `spec`, the net family."""
    from gaespec.data import load_data

    shape = list(load_data(settings.data).train.x.shape[1:])
    fixed: dict[str, Any] = {"input.shape": shape}
    if settings.nets not in NETS:
        raise BenchError(
            f"unknown net family '{settings.nets}'", key="--nets", name=settings.nets, choices=NETS
        )
    if settings.nets != "spec":
        fixed |= {"encoder.arch": settings.nets, "decoder.arch": settings.nets}
    return fixed | settings.overrides


def _job(run: BenchRun, settings: BenchSettings, split: str, measure: list[str]) -> dict:
    return {
        "model": run.model,
        "overrides": run.overrides,
        "folder": str(run.folder),
        "data": settings.data,
        "epochs": settings.epochs,
        "split": split,
        "samplers": settings.samplers,
        "fid_samples": settings.fid_samples,
        "measure": [m for m in measure if settings.fid_samples or m != "reconstruction_fid"],
        "interpolation": str(
            settings.out / "interpolations" / f"{run.model}-d{run.latent_dim}.png"
        ),
    }


def _select(candidates, score, *, highest=False):
    """The candidate (run, result) of lowest (or highest) score; the first on a tie."""
    best = None
    for run, result in candidates:
        value = score(result)
        if value is None:
            continue
        if best is None or (value > best[0] if highest else value < best[0]):
            best = (value, run)
    return None if best is None else best[1]


def bench(
    settings: BenchSettings,
    grid: Grid,
    *,
    executor: str = "local",
    executor_options: dict | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train and measure everything, select, and return the tables' sections (latent dim →
    {"table1": runs, "table2": runs, "table3": [(sampler, run)]}) with the FID floor."""
    from gaespec.bench.executors import execute

    if settings.fid_samples == 1:
        raise BenchError(
            "a Fréchet distance needs at least 2 images per side, got --fid-samples 1",
            key="--fid-samples",
            fix="give 0 (no Inception metrics) or at least 2 (1000 as the study)",
        )
    if settings.samplers and not settings.fid_samples:
        raise BenchError(
            "Table 3's samplers are measured by FID, and --fid-samples is 0",
            key="--samplers",
            fix="give --fid-samples N (N ≥ 2), or --samplers '' for no Table 3",
        )
    for model in settings.models:
        check_against_spec(grid, model)
    runs = plan(
        settings.models, grid, settings.latent_dims, settings.out, _fixed_overrides(settings)
    )
    several = {m for m in settings.models if len(grid.configurations(m)) > 1}
    # phase 1: train, and measure on the validation split what selects a configuration
    jobs = []
    for run in runs:
        measure = ["mse"]
        if run.model in several:
            measure += [f"generation/{s}" for s in settings.samplers] + ["latent"]
        jobs.append(_job(run, settings, "validation", measure))
    started = time.monotonic()
    validation = []
    for i, (run, result) in enumerate(
        zip(runs, execute(executor, run_job, jobs, **(executor_options or {})), strict=True), 1
    ):
        log(
            f"[{i}/{len(runs)}] {run.label}: trained, validation MSE "
            f"{result['measured']['mse']:.5f}  [{time.monotonic() - started:.0f}s]"
        )
        validation.append((run, result))
    # phase 2: select per model, latent dim and task
    chosen: dict[tuple[str, int], dict[str, BenchRun]] = {}
    for model in settings.models:
        for dim in settings.latent_dims:
            candidates = [(r, v) for r, v in validation if (r.model, r.latent_dim) == (model, dim)]
            picks = {
                "table1": _select(candidates, lambda v: v["measured"]["mse"]),
                "table2": _select(
                    candidates,
                    lambda v: (
                        v["measured"].get("latent", {}).get("classification", {}).get("mean", 0)
                    ),
                    highest=True,
                ),
            }
            for sampler in settings.samplers:
                picks[sampler] = _select(
                    candidates,
                    lambda v, s=sampler: (
                        v["measured"].get(f"generation/{s}") or {"fid": {"value": 0}}
                    )["fid"]["value"],
                )
            chosen[(model, dim)] = picks
    # phase 3: measure the selected runs on the test split
    wanted: dict[Path, tuple[BenchRun, set[str]]] = {}
    for picks in chosen.values():
        for task, run in picks.items():
            names = {
                "table1": {"mse", "reconstruction_fid", "interpolation"},
                "table2": {"latent"},
            }.get(task, {f"generation/{task}"})
            wanted.setdefault(run.folder, (run, set()))[1].update(names)
    order = list(wanted.values())
    jobs = [_job(run, settings, "test", sorted(names)) for run, names in order]
    tested: dict[Path, dict] = {}
    for i, ((run, _), result) in enumerate(
        zip(order, execute(executor, run_job, jobs, **(executor_options or {})), strict=True), 1
    ):
        log(
            f"[{i}/{len(order)}] {run.label}: measured on the test split "
            f"[{time.monotonic() - started:.0f}s]"
        )
        tested[run.folder] = result
    return _sections(settings, chosen, tested)


def _row(run: BenchRun, result: dict) -> dict[str, Any]:
    measured = result["measured"]
    latent = measured.get("latent", {})
    return {
        "model": run.model,
        "configuration": run.configuration.name,
        "latent_dim": run.latent_dim,
        "folder": str(run.folder),
        "seconds_per_epoch": result["seconds_per_epoch"],
        "parameters": result["parameters"],
        "test": {
            "mse": measured.get("mse"),
            "reconstruction_fid": measured.get("reconstruction_fid"),
            "classification": latent.get("classification"),
            "clustering": latent.get("clustering"),
            "samplers": {
                name.split("/", 1)[1]: value
                for name, value in measured.items()
                if name.startswith("generation/")
            },
            "interpolation": measured.get("interpolation"),
        },
    }


def _sections(settings, chosen, tested) -> dict[str, Any]:
    sections: dict[int, dict[str, list]] = {}
    for dim in settings.latent_dims:
        tables: dict[str, list] = {"table1": [], "table2": [], "table3": []}
        for model in settings.models:
            picks = chosen[(model, dim)]
            tables["table1"].append(_row(picks["table1"], tested[picks["table1"].folder]))
            tables["table2"].append(_row(picks["table2"], tested[picks["table2"].folder]))
            for sampler in settings.samplers:
                tables["table3"].append(
                    (sampler, _row(picks[sampler], tested[picks[sampler].folder]))
                )
        sections[dim] = tables
    return sections


def header(settings: BenchSettings, command: str) -> str:
    """The line above the tables: the command, the machine, the data."""
    return (
        f"Made by `{command}` on {platform.processor() or platform.machine()} "
        f"({platform.system()}); {settings.epochs} epoch(s) on `{settings.data}`, nets: "
        f"{settings.nets}. MSE per pixel; FID, KID and IS from n = {settings.fid_samples} images "
        "(or the split's size if smaller) against as many of the test split."
    )


def write_outputs(settings: BenchSettings, sections: dict, *, command: str) -> dict[str, Path]:
    """tables.md, tables.csv and latent_dims.png in settings.out, with the data's FID floor."""
    from gaespec import evaluation
    from gaespec.atomic import atomic_write_text
    from gaespec.bench import figure, tables
    from gaespec.data import load_data

    fid_note = "No Inception metrics (--fid-samples 0)."
    if settings.fid_samples:
        data = load_data(settings.data)
        floor = evaluation.fid_floor(data, "test", settings.fid_samples, progress=False)
        fid_note = (
            f"FID floor: {floor['value']:.2f}, the FID between {floor['n']} training and "
            f"{floor['n_reference']} test images of the data itself ({floor['extractor']}); "
            "FID is biased by n, and no model scores below its data's floor at that n."
        )
    text = tables.markdown(sections, header=header(settings, command), fid_note=fid_note)
    out = settings.out
    written = {
        "markdown": atomic_write_text(out / "tables.md", text),
        "csv": atomic_write_text(out / "tables.csv", tables.csv_text(sections)),
    }
    sampler = "gmm" if "gmm" in settings.samplers else (settings.samplers or [None])[0]
    written["figure"] = figure.latent_figure(sections, out / "latent_dims.png", sampler=sampler)
    return written


__all__ = ["BenchSettings", "Configuration", "bench", "header", "run_job", "write_outputs"]
