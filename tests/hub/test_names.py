"""hf:// references and repository ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from gaespec.errors import RunError
from gaespec.hub.names import check_repo_id, is_hub_ref, parse_hub_ref, working_folder


def test_references_parse_into_repository_and_revision():
    assert parse_hub_ref("hf://someorg/tiny") == ("someorg/tiny", None)
    assert parse_hub_ref("hf://some-org/tiny.v2@refs/pr/1") == ("some-org/tiny.v2", "refs/pr/1")
    assert (is_hub_ref("hf://a/b"), is_hub_ref("runs/vae")) == (True, False)


@pytest.mark.parametrize("ref", ["hf://tiny", "hf://a/b/c", "hf://a/b@", "hf:///b", "hf://a b/c"])
def test_malformed_references_are_refused(ref):
    with pytest.raises(RunError) as caught:
        parse_hub_ref(ref)
    assert str(caught.value) == (
        f"'{ref}' is not a Hugging Face Hub model reference; "
        "fix: give hf://ORG/NAME or hf://ORG/NAME@REVISION"
    )


def test_repository_ids():
    assert check_repo_id("someorg/tiny") == "someorg/tiny"
    with pytest.raises(RunError) as caught:
        check_repo_id("tiny")
    assert str(caught.value) == (
        "'tiny' is not a Hugging Face Hub repository id; "
        "fix: give ORG/NAME, e.g. someorg/beta-vae-mnist"
    )


def test_outputs_of_a_hub_model_go_under_runs_hf():
    assert working_folder("runs/vae") == Path("runs/vae")
    assert working_folder("hf://someorg/tiny") == Path("runs/hf/someorg/tiny")
    assert working_folder("hf://someorg/tiny@v1") == Path("runs/hf/someorg/tiny@v1")
