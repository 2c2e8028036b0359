"""Every `python benchmarks/perf.py ...` command the README shows parses with the benchmark's own
options, and the file it says it wrote is in the repository."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import perf  # noqa: E402

README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMANDS = re.findall(r"^python benchmarks/perf\.py(.*)$", README, flags=re.M)


def test_the_readme_shows_the_benchmark_command():
    assert COMMANDS


@pytest.mark.parametrize("line", COMMANDS)
def test_each_benchmark_command_parses_and_its_output_is_there(line):
    args = perf.parse(shlex.split(line))
    assert set(args.sections) <= set(perf.SECTIONS)
    if args.out is not None:
        assert (ROOT / args.out).is_file(), args.out


def test_an_unknown_model_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit:
        perf.parse(["--models", "vae,nope"])
    assert exit.value.code == 2
    assert "--models: unknown nope (choose from ae, vae, iwae" in capsys.readouterr().err
