"""gaespec push without a network: offline, an endpoint that refuses, no huggingface_hub, a bad
repository id; each a one-line error, none a traceback, none waiting on the network."""

from __future__ import annotations

import socket
import sys

import pytest
from huggingface_hub import constants, utils
from typer.testing import CliRunner

from gaespec.cli import app
from gaespec.errors import RunError
from gaespec.hub import push_run

runner = CliRunner()


def test_offline_push_is_one_line(tiny_run, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # read when huggingface_hub loads
    result = runner.invoke(app, ["push", str(tiny_run), "someorg/tiny", "--token", "hf_none"])
    if hasattr(utils, "reset_sessions"):  # huggingface_hub < 1.0 keeps offline in its session
        utils.reset_sessions()
    assert result.exit_code == 1
    assert result.output.startswith(
        f"error: cannot push '{tiny_run}' to 'someorg/tiny' on the Hugging Face Hub: "
        "OfflineModeIsEnabled: "
    )
    assert result.output.endswith("; fix: unset HF_HUB_OFFLINE\n")
    assert result.output.count("\n") == 1


def test_an_endpoint_that_refuses_is_one_line(tiny_run, monkeypatch):
    with socket.socket() as free:  # a port nothing listens on once this closes
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(RunError) as caught:
        push_run(tiny_run, "someorg/tiny", token="hf_none", endpoint=f"http://127.0.0.1:{port}")
    message = str(caught.value)
    assert message.startswith(
        f"cannot push '{tiny_run}' to 'someorg/tiny' on the Hugging Face Hub: "
    )
    # the HTTP library's own error: httpx's (huggingface_hub >= 1.0) or requests'
    assert message.split(": ")[1] in ("ConnectError", "ConnectionError")
    assert message.endswith(
        "; fix: check the network, the repository id and the token (--token, HF_TOKEN or "
        "`hf auth login`)"
    )
    assert "\n" not in message


def test_push_needs_huggingface_hub(tiny_run, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # `import huggingface_hub` fails
    result = runner.invoke(app, ["push", str(tiny_run), "someorg/tiny"])
    assert result.exit_code == 1
    assert result.output == (
        "error: gaespec push needs huggingface_hub, which is not installed; "
        "fix: pip install 'gaespec[hub]'\n"
    )


def test_a_repository_id_needs_an_org(tiny_run):
    result = runner.invoke(app, ["push", str(tiny_run), "https://huggingface.co/tiny"])
    assert result.exit_code == 1
    assert result.output == (
        "error: 'https://huggingface.co/tiny' is not a Hugging Face Hub repository id; "
        "fix: give ORG/NAME, e.g. someorg/beta-vae-mnist\n"
    )


def test_push_refuses_a_folder_that_is_not_a_run(tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(RunError) as caught:
        push_run(tmp_path, "someorg/tiny")
    assert str(caught.value) == (
        f"'{tmp_path}' is not a gaespec run: it has no spec.toml; "
        "fix: give the --out folder of `gaespec train`"
    )
