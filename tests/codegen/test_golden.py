"""Golden tests: the emitted text of three specs, checked in beside this file, so that any change
to the generator shows in review. After an intended change, regenerate them with

    GAESPEC_UPDATE_GOLDEN=1 python -m pytest tests/codegen/test_golden.py
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from gaespec.spec.load import SPECS_DIR, load_spec

GOLDEN = Path(__file__).parent / "golden"
SPECS = {
    "stacked_vq": GOLDEN / "stacked_vq.toml",
    "annealed_vae": GOLDEN / "annealed_vae.toml",
    "custom_ae": GOLDEN / "custom_ae.toml",
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_emitted_text_is_the_golden_file(name, monkeypatch, emitted_files):
    monkeypatch.chdir(SPECS_DIR.parent.parent)
    text = emitted_files.source(load_spec(SPECS[name]))
    golden = GOLDEN / f"{name}.py"
    if os.environ.get("GAESPEC_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    expected = golden.read_text(encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            text.splitlines(keepends=True),
            str(golden),
            "emitted now",
        )
    )
    assert text == expected, "the emitted text changed:\n" + diff
