"""Fixtures of the code generator's tests: each spec's file, emitted and imported once a session."""

from __future__ import annotations

import pytest
from codegen.emitted import EmittedFiles


@pytest.fixture(scope="session")
def emitted_files(tmp_path_factory):
    """`emitted_files.source(spec)` and `.model_class(spec)`, cached by the spec's identity."""
    return EmittedFiles(tmp_path_factory.mktemp("emitted"))
