"""What `gaespec build` does with emitted source: format it, write it, compare it.

Formatting goes through ruff (imports sorted, unused ones dropped, then `ruff format`), so a
generated file reads like any formatted project file and `--check` compares exact text.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from gaespec.atomic import atomic_write_text
from gaespec.errors import CodegenError
from gaespec.spec.load import SPECS_DIR, builtin_specs, load_spec

RUFF = (sys.executable, "-m", "ruff")
# the style of every generated file, whatever ruff configuration the user's project has
STYLE = ("--isolated", "--line-length", "100", "--target-version", "py311")


def _ruff(args: list[str], text: str) -> str:
    try:
        done = subprocess.run(
            [*RUFF, *args, *STYLE, "--stdin-filename", "generated.py", "-"],
            input=text,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as error:
        raise CodegenError(f"cannot run ruff: {error}", fix="pip install ruff") from None
    if done.returncode != 0:
        raise CodegenError(
            f"ruff {args[0]} failed on the generated source: {done.stderr.strip()}",
            fix="pip install 'ruff>=0.17' (gaespec formats generated files with it)",
        )
    return done.stdout


def format_source(text: str) -> str:
    """`text` with imports sorted, unused imports removed, and formatted by ruff."""
    try:
        compile(text, "<generated>", "exec", dont_inherit=True)
    except SyntaxError as error:  # names and text are checked before: a fault of a template
        raise CodegenError(
            f"the emitted source does not compile: {error}",
            fix="report this with the spec: it is a fault of gaespec's code generator",
        ) from None
    text = _ruff(["check", "--fix-only", "--select", "I,F401"], text)
    return _ruff(["format"], text)


def display(path: Path, project: Path | None = None) -> str:
    """How a spec file is named in a generated header: relative to `project` (the folder that
    holds the output folder) when inside it, built-ins as specs/models/<name>.toml, others
    relative to the working directory when inside it, else by file name. The first keeps
    `--check` independent of where it runs."""
    path = Path(path).resolve()
    bases = [SPECS_DIR.parent.parent, Path.cwd()]
    if project is not None:
        bases.insert(0, project.resolve())
    for base in bases:
        if path.is_relative_to(base):
            return path.relative_to(base).as_posix()
    return path.name


def _emitted(
    specs: Iterable[str | os.PathLike], overrides: Sequence[str], out: Path
) -> dict[str, tuple[Path, str]]:
    from gaespec.codegen.emit import emit

    emitted: dict[str, tuple[Path, str]] = {}
    for given in list(specs) or list(builtin_specs().values()):
        spec = load_spec(given, overrides)  # a path, or the name of a built-in spec
        path = Path(spec.source)
        name = spec.model.name
        if name in emitted:
            raise CodegenError(
                f"two specs are called '{name}' ({display(emitted[name][0])} and "
                f"{display(path)}); each emits <name>.py",
                file=str(path),
                key="model.name",
            )
        source = display(path, out.resolve().parent)
        if overrides:
            source += ", with " + " ".join(f"--set {o}" for o in overrides)
        emitted[name] = (path, emit(spec, source=source))
    return emitted


def write(
    specs: Iterable[str | os.PathLike], out: str | os.PathLike, overrides: Sequence[str] = ()
) -> list[Path]:
    """Emit each spec (every built-in spec when none is given) as `<out>/<name>.py`."""
    folder = Path(out)
    emitted = _emitted(specs, overrides, folder)
    written = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, (_, text) in emitted.items():
            written.append(atomic_write_text(folder / f"{name}.py", text))
    except OSError as error:
        raise CodegenError(
            f"cannot write generated files into '{folder}': {error.strerror or error}",
            fix="give --out a folder you can write to",
        ) from None
    return written


def stale(
    specs: Iterable[str | os.PathLike], out: str | os.PathLike, overrides: Sequence[str] = ()
) -> list[str]:
    """What in `out` differs from what the specs emit now (with no spec given: every built-in
    spec, and files of specs that no longer exist); empty when everything is current."""
    specs = list(specs)
    folder = Path(out)
    emitted = _emitted(specs, overrides, folder)
    problems = []
    for name, (path, text) in emitted.items():
        target = folder / f"{name}.py"
        if not target.exists():
            problems.append(f"{target} is missing (spec {display(path)})")
            continue
        try:
            current = target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"{target} cannot be read ({error.__class__.__name__}: {error})")
            continue
        if current != text:
            problems.append(f"{target} differs from what {display(path)} emits now")
    if not specs and folder.is_dir():
        for orphan in sorted(set(p.stem for p in folder.glob("*.py")) - set(emitted)):
            problems.append(f"{folder / orphan}.py has no spec in {display(SPECS_DIR)}")
    return problems
