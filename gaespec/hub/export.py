"""`gaespec export`: a run folder as a Hugging Face Hub model folder: its best weights
(model.safetensors), the resolved spec.toml, config.json and a model card (README.md) with the
metrics and the sample grids. `load_run` reads the folder as it reads the run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from gaespec import __version__
from gaespec import runs as layout
from gaespec.atomic import atomic_write, atomic_write_text
from gaespec.errors import RunError
from gaespec.hub.card import CARD, model_card
from gaespec.spec.load import load_spec

# copied, and shown in the card, when the run has them
IMAGES = (layout.SAMPLES, layout.RECONSTRUCTIONS, layout.CURVES)
EXPORTED = (layout.MODEL, layout.SPEC, layout.CONFIG, CARD, *IMAGES)  # every file export writes
VERSIONS = ("gaespec", "python", "torch", "device")  # of the environment the run trained in


def _config(run: Path) -> dict:
    """config.json: what the model is, how it was trained, and its final and best metrics."""
    spec = load_spec(run / layout.SPEC)
    training = layout.read_json(run / layout.TRAINING)
    _, (epoch, step) = layout.best_weights(run, tensors=False)
    records = layout.read_metrics(run / layout.METRICS)
    environment = (
        layout.read_json(run / layout.ENVIRONMENT) if (run / layout.ENVIRONMENT).exists() else {}
    )
    return {
        "library_name": "gaespec",
        "gaespec_version": __version__,
        "model": spec.model.model_dump(mode="json"),
        "spec": layout.SPEC,
        "weights": layout.MODEL,
        "input_shape": list(spec.input.shape),
        "latent_dim": spec.latent.dim,
        "training": training,
        "trained_with": {key: environment[key] for key in VERSIONS if key in environment},
        "metrics": {
            "select": training.get("select"),
            "best_epoch": epoch,
            "best_step": step,
            "best": next((r for r in records if r.get("epoch") == epoch), None),
            "final": records[-1] if records else None,
        },
    }


def _check_target(run: Path, out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise RunError(f"'{out}' is a file, not a folder", fix="give a folder to export into")
    if out.exists() and out.resolve() == run.resolve():
        raise RunError(f"cannot export '{run}' into itself", fix="give another folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise RunError(
            f"'{out}' exists and is not empty",
            fix="give a new or empty folder, or pass --force (Python: force=True) to write over it",
        )


def export_run(
    run: str | Path,
    out: str | Path,
    *,
    force: bool = False,
    repo: str | None = None,
    license: str | None = None,
) -> Path:
    """Write run folder `run` into folder `out` in the Hub's model layout and return `out`; each
    file is written atomically. `repo` ("ORG/NAME") is where it will be pushed, for the card's
    example; `license` (an SPDX id such as "mit") goes into the card's metadata."""
    run, out = Path(run), Path(out)
    layout.require_run(run)
    config = _config(run)
    _check_target(run, out, force)
    images = [name for name in IMAGES if (run / name).is_file()]
    for name in (layout.MODEL, layout.SPEC, *images):
        atomic_write(out / name, lambda tmp, source=run / name: shutil.copyfile(source, tmp))
    for name in set(IMAGES) - set(images):  # left by an earlier export into this folder
        (out / name).unlink(missing_ok=True)
    atomic_write_text(out / layout.CONFIG, json.dumps(config, indent=2) + "\n")
    card = model_card(
        config,
        (run / layout.SPEC).read_text(encoding="utf-8"),
        images,
        load_as=f"hf://{repo}" if repo else str(out),
        license=license,
    )
    atomic_write_text(out / CARD, card)
    return out
