"""The namespace gives each spec name one identifier that shadows nothing."""

from __future__ import annotations

import pytest

from gaespec.codegen.namespace import Namespace
from gaespec.errors import CodegenError


def test_names_keep_their_spelling_unless_taken():
    names = Namespace({"torch", "self"})
    assert names["recon"] == "recon"
    assert names["torch"] == "torch_"
    assert names["recon.per_sample"] == "recon_per_sample"
    assert names["recon"] == "recon"  # the same key, the same name
    assert names.claim("critic.codes", "codes") == "codes"
    assert names.claim("other.codes", "codes") == "codes_"
    assert names["list"] == "list_" and names["lambda_"] == "lambda_"


def test_only_identifiers_become_names():
    with pytest.raises(CodegenError, match="is not a Python identifier"):
        Namespace()["x; import os"]
