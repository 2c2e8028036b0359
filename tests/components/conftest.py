"""Fixtures of the component tests: tiny MLP versions of the shipped specs."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny import FITTING

import gaespec

SPECS = Path(__file__).resolve().parents[2] / "specs" / "models"
SHAPE = (1, 6, 6)
DIM = 4
TINY = [
    "encoder.arch='mlp'",
    "decoder.arch='mlp'",
    "encoder.hidden=[16]",
    "decoder.hidden=[16]",
    f"latent.dim={DIM}",
    f"input.shape={list(SHAPE)}",
]


@pytest.fixture
def tiny_model():
    """A factory: specs/models/<name>.toml with small MLP nets, 1×6×6 inputs and a 4-d latent
    (and what tiny.FITTING says the spec needs to fit them)."""

    def make(name: str, *overrides: str):
        overrides = [*TINY, *FITTING.get(name, ()), *overrides]
        spec = gaespec.load_spec(SPECS / f"{name}.toml", overrides=overrides)
        return gaespec.build(spec)

    return make
