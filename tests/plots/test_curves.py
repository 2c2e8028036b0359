"""A run's training curves: a PNG with one panel per term and objective, whose lines are the
train and validation values of metrics.jsonl."""

from __future__ import annotations

import json
import math

import pytest
from PIL import Image
from tiny import tiny_spec
from written_runs import record, write_run

import gaespec
from gaespec.errors import RunError
from gaespec.plots import read_curves, write_curves


@pytest.fixture
def trained_aae(tmp_path, digits):
    """Two epochs of a tiny AAE: three terms, two objectives."""
    return gaespec.train(
        tiny_spec("aae"), data=digits, epochs=2, out=tmp_path / "aae", progress=False, log=print
    )


def test_the_curves_of_a_trained_run_show_every_term_and_objective(trained_aae):
    run = trained_aae.path
    plot = write_curves(run)
    assert plot.path == run / "curves.png"
    assert plot.titles == (
        "recon (term: reconstruction)",
        "adversarial (term: adversarial_generator)",
        "critic_bce (term: adversarial_critic)",
        "objective autoencoder = recon + alpha *\nadversarial",
        "objective critic = critic_bce",
    )
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    names = ["recon", "adversarial", "critic_bce", "autoencoder", "critic"]
    for panel, name in zip(plot.panels, names, strict=True):
        assert panel.lines == {
            split: ((1.0, 2.0), tuple(r[split][name] for r in records))
            for split in ("train", "validation")
        }
    with Image.open(run / "curves.png") as image:
        assert image.format == "PNG"
        assert image.size == (1540, 700)  # 3 panels wide, 2 high, at 100 dpi
    assert [p.name for p in run.iterdir() if p.name.endswith(".tmp")] == []


def test_each_write_shows_the_epochs_so_far(tmp_path):
    train = {"recon": 3.0, "loss": 3.0}
    run = write_run(tmp_path / "ae", "ae", [record(1, train, {"recon": 2.0, "loss": 2.0})])
    first = write_curves(run)
    assert first.panels[0].lines["validation"] == ((1.0,), (2.0,))
    with (run / "metrics.jsonl").open("a") as f:
        f.write(json.dumps(record(2, train, {"recon": 1.5, "loss": 1.5})) + "\n")
    second = write_curves(run)
    assert second.titles == ("recon (term: reconstruction)", "objective loss = recon")
    assert second.panels[1].lines["validation"] == ((1.0, 2.0), (2.0, 1.5))
    with Image.open(second.path) as image:
        assert image.size == (1080, 380)  # 2 panels in one row


def test_a_value_missing_from_an_epoch_is_a_gap(tmp_path):
    records = [
        record(1, {"recon": 3.0, "kl": 1.0, "loss": 4.0}, {"recon": 2.0, "kl": 1.0, "loss": 3.0}),
        record(2, {"recon": 2.0, "loss": 2.0}, {"recon": 1.0, "kl": 0.5, "loss": 1.5}),
    ]
    curves = read_curves(write_run(tmp_path / "vae", "vae", records))
    assert curves.series["kl"]["validation"] == (1.0, 0.5)
    assert curves.series["kl"]["train"][0] == 1.0 and math.isnan(curves.series["kl"]["train"][1])
    assert curves.terms == ("recon", "kl")


def test_out_puts_the_picture_elsewhere(tmp_path):
    train = {"recon": 3.0, "loss": 3.0}
    run = write_run(tmp_path / "ae", "ae", [record(1, train, train)])
    plot = write_curves(run, out=tmp_path / "docs" / "ae.png")
    assert plot.path == tmp_path / "docs" / "ae.png" and plot.path.exists()
    assert not (run / "curves.png").exists()


def test_what_is_not_a_run_or_has_no_epoch_is_refused(tmp_path):
    with pytest.raises(RunError) as error:
        write_curves(tmp_path)
    assert str(error.value) == (
        f"'{tmp_path}' is not a gaespec run: it has no spec.toml and no metrics.jsonl; "
        "fix: give a run folder written by `gaespec train` (see `gaespec runs`)"
    )
    run = write_run(tmp_path / "vae", "vae", [])
    with pytest.raises(RunError) as error:
        write_curves(run)
    assert str(error.value) == (
        f"run '{run}' has no finished epoch yet: its metrics.jsonl is empty; "
        "fix: train it for an epoch or more"
    )
    damaged = record(1, {"loss": 1.0}, 3.5)
    (run / "metrics.jsonl").write_text(json.dumps(damaged) + "\n")
    with pytest.raises(RunError) as error:
        write_curves(run)
    assert str(error.value) == (
        f"'{run / 'metrics.jsonl'}' line 1 is damaged: it has no validation metrics"
    )
    (run / "metrics.jsonl").write_text(json.dumps(record(1, {"loss": "x"}, {"loss": 1.0})) + "\n")
    with pytest.raises(RunError) as error:
        write_curves(run)
    assert str(error.value) == (
        f"'{run / 'metrics.jsonl'}' line 1 is damaged: its train loss is 'x', not a number"
    )
