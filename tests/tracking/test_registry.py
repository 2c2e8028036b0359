"""Choosing trackers: by name or made with options; unknown names and missing packages refused
before any training, in one line that names the fix."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tiny import TINY, tiny_spec
from typer.testing import CliRunner

import gaespec
from gaespec.cli import app
from gaespec.errors import TrainingError
from gaespec.tracking import (
    MLflowTracker,
    TensorBoardTracker,
    WandbTracker,
    known_trackers,
    resolve_trackers,
)


def test_the_trackers_are_known_by_name():
    assert known_trackers() == ["mlflow", "tensorboard", "wandb"]
    trackers = resolve_trackers("tensorboard, wandb,tensorboard,")  # the CLI's comma list
    assert [type(t) for t in trackers] == [TensorBoardTracker, WandbTracker]
    made = MLflowTracker(tracking_uri="http://localhost:5000", experiment="digits")
    assert resolve_trackers([made]) == [made]
    assert resolve_trackers([]) == []


def test_an_unknown_tracker_is_refused_before_training(tmp_path, digits):
    with pytest.raises(TrainingError) as error:
        gaespec.train(tiny_spec("vae"), data=digits, out=tmp_path / "run", track=["tensorbord"])
    assert str(error.value) == (
        "--track: unknown tracker 'tensorbord' (known: mlflow, tensorboard, wandb); "
        "closest valid choice: 'tensorboard'"
    )
    assert not (tmp_path / "run").exists()


def test_the_cli_refuses_an_unknown_tracker_in_one_line(tmp_path):
    overrides = [a for o in TINY for a in ("--set", o)]
    result = CliRunner().invoke(
        app,
        ["train", "vae", *overrides, "--data", "sklearn_digits", "--out", str(tmp_path / "run")]
        + ["--track", "tensorboard,neptune"],
    )
    assert result.exit_code == 1
    assert result.output == (
        "error: --track: unknown tracker 'neptune' (known: mlflow, tensorboard, wandb)\n"
    )
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("name", "package"),
    [
        ("tensorboard", "tensorboard"),
        ("mlflow", "mlflow"),
        ("wandb", "wandb"),
        ("mlflow", "sqlalchemy"),
    ],
)
def test_a_missing_package_names_the_extra(name, package, monkeypatch, tmp_path, digits):
    monkeypatch.setitem(sys.modules, package, None)  # what `import package` meets when absent
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(TrainingError) as error:
        gaespec.train(tiny_spec("vae"), data=digits, out=tmp_path / "run", track=[name])
    assert str(error.value) == (
        f"--track: the {name} tracker needs the '{package}' package, which is not installed; "
        f"fix: pip install 'gaespec[{name}]'"
    )
    assert not (tmp_path / "run").exists()


def test_a_tracking_server_needs_no_database_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    (made,) = resolve_trackers([MLflowTracker(tracking_uri="http://localhost:5000")])
    assert made.required() == ("mlflow",)


def test_gaespec_and_training_load_without_any_tracker():
    code = (
        "import sys, gaespec, gaespec.tracking, gaespec.training.run, gaespec.cli; "
        "print(sorted(m for m in ('mlflow', 'wandb', 'tensorboard') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
