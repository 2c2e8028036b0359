"""gaespec export: the Hub's model layout, read back by load_run as the run itself."""

from __future__ import annotations

import json
import pickle
import shutil
import sys

import pytest
import torch
from huggingface_hub.repocard import metadata_load
from typer.testing import CliRunner

import gaespec
from gaespec.cli import app
from gaespec.errors import RunError
from gaespec.hub import export_run
from gaespec.hub.export import IMAGES

runner = CliRunner()


def _records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_the_cli_writes_the_hub_layout(tiny_run, tmp_path):
    result = runner.invoke(app, ["export", str(tiny_run), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    images = [name for name in IMAGES if (tiny_run / name).exists()]
    assert images[:2] == ["samples.png", "reconstructions.png"]  # what `gaespec train` draws
    assert result.output == (
        f"exported {tiny_run} to {tmp_path / 'out'}: model.safetensors, spec.toml, config.json, "
        f"README.md, {', '.join(images)}\n"
    )
    for name in ("model.safetensors", "spec.toml", *images):
        assert (tmp_path / "out" / name).read_bytes() == (tiny_run / name).read_bytes(), name


def test_load_run_on_the_export_gives_the_same_reconstructions(tiny_run, exported, digits):
    run, export = gaespec.load_run(tiny_run), gaespec.load_run(exported)
    assert not export.training
    x = digits.test.x[:16]
    with torch.no_grad():
        assert torch.equal(export.reconstruct(x), run.reconstruct(x))
    assert (export.run.epoch, export.run.step) == (run.run.epoch, run.run.step)
    assert export.run.training == json.loads((tiny_run / "training.json").read_text())
    assert export.run.spec.model_dump() == run.run.spec.model_dump()


def test_config_holds_the_metrics_and_the_training(tiny_run, exported):
    config = json.loads((exported / "config.json").read_text())
    records = _records(tiny_run)
    best = json.loads((tiny_run / "training.json").read_text())["select"]
    best_epoch = min(records, key=lambda r: r["validation"][best])["epoch"]
    assert config["metrics"] == {
        "select": "loss",
        "best_epoch": best_epoch,
        "best_step": records[best_epoch - 1]["step"],
        "best": records[best_epoch - 1],
        "final": records[-1],
    }
    assert config["training"] == json.loads((tiny_run / "training.json").read_text())
    assert config["model"] == {
        "name": "vae",
        "summary": "Variational autoencoder",
        "reference": "Kingma & Welling 2014, arXiv:1312.6114",
    }
    assert (config["input_shape"], config["latent_dim"]) == ([1, 8, 8], 4)
    assert config["library_name"] == "gaespec"
    assert config["gaespec_version"] == gaespec.__version__
    assert config["trained_with"]["torch"] == torch.__version__


def test_the_card_holds_the_metrics_and_the_sample_grid(tiny_run, exported):
    card = (exported / "README.md").read_text()
    assert metadata_load(exported / "README.md") == {
        "library_name": "gaespec",
        "tags": ["gaespec", "generative-autoencoder", "safetensors", "vae"],
    }
    final = _records(tiny_run)[-1]
    assert "| term | train, epoch 2 | validation, epoch 2 | validation, epoch 2 (best) |" in card
    for term in ("recon", "kl", "loss"):
        train, validation = final["train"][term], final["validation"][term]
        assert f"| {term} | {train:.6g} | {validation:.6g} | {validation:.6g} |" in card
    assert "![Samples](samples.png)" in card
    assert "![Reconstructions](reconstructions.png)" in card
    assert f'model = gaespec.load_run("{exported}")' in card


def test_a_license_goes_into_the_card(tiny_run, tmp_path):
    export_run(tiny_run, tmp_path, license="mit", repo="someorg/tiny")
    assert metadata_load(tmp_path / "README.md")["license"] == "mit"
    assert 'gaespec.load_run("hf://someorg/tiny")' in (tmp_path / "README.md").read_text()


def test_loading_an_export_never_unpickles(exported, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    assert gaespec.load_run(exported).sample(2).shape == (2, 1, 8, 8)
    assert {path.suffix for path in exported.iterdir()} == {
        ".safetensors",
        ".toml",
        ".json",
        ".md",
        ".png",
    }


def test_an_export_has_no_last_weights(exported):
    with pytest.raises(RunError) as caught:
        gaespec.load_run(exported, which="last")
    assert str(caught.value) == (
        f"'{exported}' is an exported model: it holds the best weights, not the last epoch's; "
        "fix: load its best weights (which='best', CLI: --which best)"
    )


def test_a_folder_that_is_not_a_run_is_refused(tmp_path):
    result = runner.invoke(app, ["export", str(tmp_path), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.output == (
        f"error: '{tmp_path}' is not a gaespec run: it has no spec.toml; "
        "fix: give the --out folder of `gaespec train`\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_folder_that_is_not_empty_needs_force(tiny_run, exported, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["export", str(tiny_run), str(out)])
    assert result.exit_code == 1
    assert result.output == (
        f"error: '{out}' exists and is not empty; fix: give a new or empty folder, or pass "
        "--force (Python: force=True) to write over it\n"
    )
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    # forced over an earlier export, a run without grids leaves none of the old ones behind
    shutil.copytree(exported, out, dirs_exist_ok=True)
    bare = tmp_path / "bare"
    shutil.copytree(tiny_run, bare)
    for name in IMAGES:
        (bare / name).unlink(missing_ok=True)
    result = runner.invoke(app, ["export", str(bare), str(out), "--force"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["README.md", "config.json", "model.safetensors", "notes.txt", "spec.toml"]
    assert "![Samples]" not in (out / "README.md").read_text()


def test_a_run_cannot_be_exported_into_itself(tiny_run):
    with pytest.raises(RunError) as caught:
        export_run(tiny_run, tiny_run, force=True)
    assert str(caught.value) == (
        f"cannot export '{tiny_run}' into itself; fix: give another folder"
    )


def test_exporting_needs_no_huggingface_hub(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # `import huggingface_hub` fails
    export_run(tiny_run, tmp_path)
    assert (tmp_path / "model.safetensors").exists()


def test_every_grid_of_the_run_is_copied_and_shown(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    shutil.copyfile(run / "samples.png", run / "curves.png")  # as the training-curves plot names it
    export_run(run, tmp_path / "out")
    card = (tmp_path / "out" / "README.md").read_text()
    for title, image in zip(("Samples", "Reconstructions", "Training curves"), IMAGES, strict=True):
        assert (tmp_path / "out" / image).read_bytes() == (run / image).read_bytes()
        assert f"![{title}]({image})" in card
