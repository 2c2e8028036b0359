"""The README stays true: every command it shows parses, every spec key it names exists, and its
Python example runs (training itself is replaced by a signature check: it takes minutes)."""

from __future__ import annotations

import ast
import inspect
import re
import shlex
from pathlib import Path

import pytest
import typer.main

import gaespec
from gaespec.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def commands() -> list[list[str]]:
    found = []
    for block in blocks("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            for part in line.split("&&"):
                words = shlex.split(part)
                if words and words[0].endswith("torchrun"):  # torchrun ... -m gaespec ARGS
                    words = words[words.index("-m") + 1 :]
                if words and words[0].endswith("gaespec"):
                    found.append(words[1:])
    return found


def test_the_readme_shows_the_two_setup_commands():
    setup = [b for b in blocks("sh") if b.startswith("python3 -m venv .venv")]
    assert [s.strip().split("&& ")[-1] for s in setup] == [
        ".venv/bin/gaespec train specs/models/vae.toml",
        ".venv/bin/python -m pytest",
    ]
    assert "python -m pytest" in Path(".ci/run").read_text()


@pytest.mark.parametrize("args", commands(), ids=lambda a: " ".join(a[:2]))
def test_every_command_parses(args):
    command = typer.main.get_command(app)
    # parsing only: an unknown command or option raises a click usage error here
    context = command.make_context("gaespec", list(args), resilient_parsing=False)
    sub = command.get_command(context, args[0])
    assert sub is not None, args[0]
    sub.make_context(args[0], list(args[1:]))
    for value in args:
        if value.endswith(".toml"):
            assert list(Path(".").glob(value)), value
    sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    if sets and args[0] == "train":
        gaespec.lower(gaespec.load_spec(args[1], sets))


def test_the_python_example_runs():
    (example,) = [b for b in blocks("python") if "import gaespec" in b]
    slow = [
        line for line in example.splitlines() if "gaespec.train(" in line or "load_run(" in line
    ]
    fast = "\n".join(line for line in example.splitlines() if line not in slow)
    namespace: dict = {}
    exec(compile(fast, "README.md", "exec"), namespace)
    assert namespace["x_hat"].shape == (8, 1, 28, 28)
    for line in slow:
        call = ast.parse(line.split("=", 1)[1].split("#")[0].strip()).body[0].value
        function = getattr(gaespec, call.func.attr)
        args = [namespace["spec"] if isinstance(a, ast.Name) else a.value for a in call.args]
        kwargs = {k.arg: k.value.value for k in call.keywords}
        inspect.signature(function).bind(*args, **kwargs)


def test_the_spec_the_readme_shows_is_valid(tmp_path):
    (shown,) = [b for b in blocks("toml") if "[model]" in b]
    path = tmp_path / "shown.toml"
    path.write_text(shown)
    graph = gaespec.lower(gaespec.load_spec(path))
    assert graph.spec.model_dump() | {"model": None} == (
        gaespec.load_spec("specs/models/vae.toml").model_dump() | {"model": None}
    )


def test_the_generated_file_example_runs(tmp_path, monkeypatch):
    import shutil
    import sys

    import torch
    from safetensors.torch import save_file

    (example,) = [b for b in blocks("python") if "from vae import VAE" in b]
    root = Path(__file__).resolve().parents[1]
    shutil.copy(root / "generated" / "vae.py", tmp_path / "vae.py")
    (tmp_path / "runs" / "vae").mkdir(parents=True)
    torch.manual_seed(0)
    trained = gaespec.build("specs/models/vae.toml")
    save_file(trained.state_dict(), tmp_path / "runs" / "vae" / "model.safetensors")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "vae", raising=False)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    assert namespace["x_hat"].shape == (8, 1, 28, 28)
    loaded = dict(namespace["model"].named_parameters())  # (batch statistics moved in forward)
    for key, value in trained.named_parameters():
        assert torch.equal(loaded[key], value)
