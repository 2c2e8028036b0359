"""The optional huggingface_hub: a missing one names the extra; errors shrink to one line."""

from __future__ import annotations

import sys

import pytest

from gaespec.errors import RunError
from gaespec.hub.client import first_line, hub_library


def test_a_missing_huggingface_hub_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # `import huggingface_hub` fails
    with pytest.raises(RunError) as caught:
        hub_library("this")
    assert str(caught.value) == (
        "this needs huggingface_hub, which is not installed; fix: pip install 'gaespec[hub]'"
    )


def test_first_line():
    assert first_line(OSError("404 Client Error.\n\nRepository Not Found")) == (
        "OSError: 404 Client Error."
    )
    assert first_line(TimeoutError()) == "TimeoutError"
