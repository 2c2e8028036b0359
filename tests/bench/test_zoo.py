"""`gaespec zoo`: every spec trained alike, then a table whose numbers are checked independently."""

from __future__ import annotations

import re

import torch
from typer.testing import CliRunner

from gaespec.cli import app
from gaespec.data import load_data
from gaespec.runs import load_run

SMALL = ["input.shape=[1,8,8]", "encoder.arch=mlp", "decoder.arch=mlp", "latent.dim=4"]
ARGS = ["--data", "sklearn_digits", "--epochs", "1", *[w for s in SMALL for w in ("--set", s)]]


def _zoo(tmp_path, *specs):
    result = CliRunner().invoke(
        app,
        ["zoo", *specs, *ARGS, "--out", str(tmp_path / "runs"), "--table", str(tmp_path / "t.md")],
    )
    assert result.exit_code == 0, result.output
    return result


def _rows(text: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and cells[0] not in ("model",) and not cells[0].startswith("-"):
            rows[cells[0]] = cells
    return rows


def test_the_table_holds_each_models_test_mse_and_size(tmp_path):
    result = _zoo(tmp_path, "specs/models/ae.toml", "specs/models/vae.toml")
    table = (tmp_path / "t.md").read_text()
    assert table in result.stdout
    assert table.startswith(
        "Made by `gaespec zoo specs/models/ae.toml specs/models/vae.toml --data sklearn_digits "
        "--epochs 1 --set input.shape=[1,8,8] --set encoder.arch=mlp --set decoder.arch=mlp "
        "--set latent.dim=4` on "
    )
    rows = _rows(table)
    assert list(rows) == ["ae", "vae"]
    x = load_data("sklearn_digits", seed=0).test.x
    for name, cells in rows.items():
        model = load_run(tmp_path / "runs" / name, which="last").eval()
        with torch.no_grad():
            mse = ((model.decode(model.encode(x).mean) - x) ** 2).mean().item()
        assert abs(float(cells[1]) - mse) <= 5e-6, (name, mse)  # printed to 5 decimals
        assert int(cells[3].replace(",", "")) == sum(p.numel() for p in model.parameters())
        assert float(cells[2]) >= 0
    assert rows["vae"][4] == "Kingma & Welling 2014, arXiv:1312.6114"


def test_a_second_call_reuses_the_finished_runs(tmp_path):
    first = _zoo(tmp_path, "specs/models/ae.toml")
    weights = (tmp_path / "runs" / "ae" / "model.safetensors").read_bytes()
    second = _zoo(tmp_path, "specs/models/ae.toml")
    assert (tmp_path / "runs" / "ae" / "model.safetensors").read_bytes() == weights
    assert "epoch 1/1" in first.stderr and "epoch 1/1" not in second.stderr
    assert re.findall(r"\| ae \|[^\n]*", first.stdout) == re.findall(
        r"\| ae \|[^\n]*", second.stdout
    )
