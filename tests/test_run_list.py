"""`gaespec runs`: the runs under a folder with their model, data, epochs and last validation
metrics, as an aligned table; damaged runs listed with the reason; torch never imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tiny import tiny_spec
from typer.testing import CliRunner
from written_runs import record, write_run

import gaespec
from gaespec.cli import app
from gaespec.run_list import find_runs, summarize

runner = CliRunner()


def last_validation(run) -> dict:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return json.loads(lines[-1])["validation"]


@pytest.fixture
def two_runs(tmp_path, digits):
    """A tiny VAE (2 epochs) in runs/vae and a tiny AAE (1 epoch) in runs/adversarial/aae."""
    for name, epochs, out in (("vae", 2, "vae"), ("aae", 1, "adversarial/aae")):
        gaespec.train(
            tiny_spec(name),
            data=digits,
            epochs=epochs,
            out=tmp_path / "runs" / out,
            progress=False,
            log=lambda *_: None,
        )
    return tmp_path / "runs"


def test_two_trained_runs_are_listed_with_their_final_metrics(two_runs):
    result = runner.invoke(app, ["runs", str(two_runs)])
    assert result.exit_code == 0, result.output
    header, *rows = result.output.splitlines()
    aae, vae = two_runs / "adversarial" / "aae", two_runs / "vae"
    got, want = last_validation(aae), last_validation(vae)
    assert [row.split() for row in rows] == [
        [
            str(aae),
            "aae",
            "sklearn_digits",
            "1/1",
            "autoencoder",
            f"{got['autoencoder']:.6g}",
            f"{got['recon']:.6g}",
        ],
        [
            str(vae),
            "vae",
            "sklearn_digits",
            "2/2",
            "loss",
            f"{want['loss']:.6g}",
            f"{want['recon']:.6g}",
        ],
    ]
    assert header.split("  ")[0].strip() == "run"
    for column in ("model", "data", "epochs", "selected (validation)", "recon"):
        at = header.index(column)
        assert all(row[at - 2 : at] == "  " and row[at] != " " for row in rows), column


def test_a_run_in_progress_and_damaged_runs_are_listed_without_crashing(tmp_path):
    runs = tmp_path / "runs"
    going = write_run(
        runs / "going",
        "beta_vae",
        [record(1, {}, {"recon": 3.25, "kl": 1.0, "loss": 7.25})],
        epochs=5,
    )
    broken = write_run(runs / "broken", "vae", [record(1, {}, {"loss": 1.0})])
    with (broken / "metrics.jsonl").open("a") as f:
        f.write('{"epoch": 2, "trai\n')
    lonely = runs / "lonely"
    lonely.mkdir()
    (lonely / "metrics.jsonl").write_text("")
    result = runner.invoke(app, ["runs", str(runs)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1] == (
        f"{broken}  damaged: '{broken / 'metrics.jsonl'}' line 2 is not valid JSON: "
        "Unterminated string starting at: line 1 column 14 (char 13)"
    )
    assert lines[2].split() == [
        str(going),
        "beta_vae",
        "sklearn_digits",
        "1/5",
        "loss",
        "7.25",
        "3.25",
    ]
    assert lines[3] == (
        f"{str(lonely).ljust(len(str(going)))}  damaged: '{lonely}' is not a gaespec run: "
        "it has no spec.toml; fix: give a run folder written by `gaespec train` "
        "(see `gaespec runs`)"
    )


def test_a_run_without_epochs_or_training_json(tmp_path):
    fresh = write_run(tmp_path / "fresh", "ae", [], epochs=3)
    summary = summarize(fresh)
    assert (summary.epochs_done, summary.epochs_planned, summary.selected) == (0, 3, None)
    (fresh / "training.json").unlink()
    assert summarize(fresh).problem == (
        f"'{fresh / 'training.json'}' is missing; fix: the run folder is incomplete"
    )


def test_find_runs_stops_at_runs_and_at_the_depth(tmp_path):
    outer = write_run(tmp_path / "a", "ae", [])
    write_run(outer / "samplers" / "inner", "ae", [])  # inside a run: not another run
    deep = write_run(tmp_path / "b" / "c" / "d", "ae", [])
    assert find_runs(tmp_path) == [outer, deep]
    assert find_runs(tmp_path, depth=2) == [outer]
    assert find_runs(outer) == [outer]


def test_an_empty_folder_and_a_missing_one(tmp_path):
    result = runner.invoke(app, ["runs", str(tmp_path)])
    assert result.exit_code == 0
    assert result.output == (
        f"no runs under {tmp_path} (a run folder holds spec.toml and metrics.jsonl)\n"
    )
    result = runner.invoke(app, ["runs", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert result.output == (
        f"error: '{tmp_path / 'nowhere'}' is not a folder; fix: give the folder that holds the "
        "runs, e.g. runs\n"
    )


def test_listing_runs_imports_neither_torch_nor_matplotlib(tmp_path):
    write_run(tmp_path / "vae", "vae", [record(1, {}, {"recon": 1.5, "kl": 1.0, "loss": 2.5})])
    code = (
        "import sys; from typer.testing import CliRunner; from gaespec.cli import app;"
        f"r = CliRunner().invoke(app, ['runs', r'{tmp_path}']);"
        "print(r.exit_code, r.output.splitlines()[1].split()[1:], "
        "'torch' in sys.modules, 'matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        "0 ['vae', 'sklearn_digits', '1/1', 'loss', '2.5', '1.5'] False False"
    )
