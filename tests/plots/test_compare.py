"""Several runs' curves together: exactly the shared terms, a line per run and split, the values
of each run's metrics.jsonl; clear errors for what cannot be compared."""

from __future__ import annotations

import re

import pytest
from PIL import Image
from typer.testing import CliRunner
from written_runs import record, write_run

import gaespec
from gaespec.cli import app
from gaespec.errors import RunError
from gaespec.plots import compare_runs
from gaespec.spec.toml_writer import spec_toml

runner = CliRunner()


def ae_and_vae(folder):
    ae = write_run(
        folder / "ae",
        "ae",
        [
            record(1, {"recon": 9.0, "loss": 9.0}, {"recon": 8.0, "loss": 8.0}),
            record(2, {"recon": 7.0, "loss": 7.0}, {"recon": 6.0, "loss": 6.0}),
            record(3, {"recon": 5.0, "loss": 5.0}, {"recon": 4.5, "loss": 4.5}),
        ],
    )
    vae = write_run(
        folder / "vae",
        "vae",
        [
            record(1, {"recon": 19, "kl": 1, "loss": 20}, {"recon": 18, "kl": 2, "loss": 20}),
            record(2, {"recon": 15, "kl": 2, "loss": 17}, {"recon": 14, "kl": 3, "loss": 17}),
        ],
    )
    return ae, vae


def test_the_shared_terms_get_a_panel_each(tmp_path):
    ae, vae = ae_and_vae(tmp_path)
    plot = compare_runs([ae, vae], tmp_path / "compare.png")
    # not kl, which ae lacks; an AE's recon is a sum of squares, a VAE's half of one
    assert plot.titles == ("recon (term: reconstruction)\nscale differs: ae: 1.0; vae: 0.5",)
    assert plot.panels[0].lines == {
        "ae (validation)": ((1.0, 2.0, 3.0), (8.0, 6.0, 4.5)),
        "ae (train)": ((1.0, 2.0, 3.0), (9.0, 7.0, 5.0)),
        "vae (validation)": ((1.0, 2.0), (18.0, 14.0)),
        "vae (train)": ((1.0, 2.0), (19.0, 15.0)),
    }
    with Image.open(plot.path) as image:
        assert image.format == "PNG" and image.size == (620, 380)


def test_terms_names_the_panels(tmp_path):
    ae, vae = ae_and_vae(tmp_path)
    plot = compare_runs([ae, vae], tmp_path / "c.png", terms=["loss", "recon"])
    assert plot.titles == (
        "loss\nloss differs: ae: recon; vae: recon + kl",
        "recon (term: reconstruction)\nscale differs: ae: 1.0; vae: 0.5",
    )
    assert plot.panels[0].lines["vae (validation)"] == ((1.0, 2.0), (20.0, 17.0))
    with pytest.raises(RunError) as error:
        compare_runs([ae, vae], tmp_path / "c.png", terms=["kl"])
    assert str(error.value) == (f"--terms: run '{ae}' has no term or objective 'kl'")


def test_runs_of_one_model_are_told_apart_by_path(tmp_path):
    first = write_run(tmp_path / "a" / "ae", "ae", [record(1, {"recon": 2}, {"recon": 1})])
    second = write_run(tmp_path / "b" / "ae", "ae", [record(1, {"recon": 4}, {"recon": 3})])
    plot = compare_runs([first, second], tmp_path / "c.png")
    assert set(plot.panels[0].lines) == {
        f"{first} (validation)",
        f"{first} (train)",
        f"{second} (validation)",
        f"{second} (train)",
    }


def test_runs_sharing_no_term_are_refused(tmp_path):
    ae, vae = ae_and_vae(tmp_path)
    renamed = re.sub(r"\brecon\b", "error", spec_toml(gaespec.load_spec("ae")))
    other = write_run(
        tmp_path / "other", "ae", [record(1, {"error": 1}, {"error": 1})], spec_text=renamed
    )
    with pytest.raises(RunError) as error:
        compare_runs([vae, other], tmp_path / "c.png")
    assert str(error.value) == (
        f"the runs share no loss term ({vae}: recon, kl; {other}: error); fix: compare runs "
        "whose models have a term in common, or name one with --terms"
    )
    assert not (tmp_path / "c.png").exists()


def test_the_command_writes_compare_png_and_says_where(tmp_path, monkeypatch):
    ae, vae = ae_and_vae(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["compare", "ae", "vae"])
    assert result.exit_code == 0, result.output
    assert result.output == "wrote compare.png (2 runs, 1 panel(s))\n"
    assert (tmp_path / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = runner.invoke(app, ["compare", "ae", "vae", "--terms", "recon,loss", "--out", "x.png"])
    assert result.output == "wrote x.png (2 runs, 2 panel(s))\n"


def test_the_command_refuses_a_folder_that_is_not_a_run(tmp_path):
    ae, _ = ae_and_vae(tmp_path)
    result = runner.invoke(app, ["compare", str(ae), str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == (
        f"error: '{tmp_path}' is not a gaespec run: it has no spec.toml and no metrics.jsonl; "
        "fix: give a run folder written by `gaespec train` (see `gaespec runs`)\n"
    )
