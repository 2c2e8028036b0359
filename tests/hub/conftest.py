"""A tiny trained run (CLI: samples.png and reconstructions.png included) and its export, made
once for the tests of gaespec.hub."""

from __future__ import annotations

import pytest
from tiny import TINY
from typer.testing import CliRunner

from gaespec.cli import app


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A VAE with MLP nets trained two epochs on the 8×8 digits by `gaespec train`."""
    out = tmp_path_factory.mktemp("hub") / "run"
    sets = [word for value in TINY for word in ("--set", value)]
    args = ["train", "vae", "--data", "sklearn_digits", "--epochs", "2", *sets, "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--quiet"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def exported(tiny_run, tmp_path_factory):
    """tiny_run exported by `gaespec export`."""
    out = tmp_path_factory.mktemp("hub") / "export"
    result = CliRunner().invoke(app, ["export", str(tiny_run), str(out)])
    assert result.exit_code == 0, result.output
    return out
