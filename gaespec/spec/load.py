"""Spec loading: TOML → `extends` chain merged key by key → overrides → validated `Spec`.

Every error names the file that set the offending key, the key path, the line where TOML gives
one, and the closest valid choices.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from gaespec.errors import SpecError
from gaespec.spec.locate import locate as _locate
from gaespec.spec.schema import OVERRIDE, Spec
from gaespec.spec.vocabulary import CUSTOM


def _specs_dir() -> Path:
    """specs/models of the source tree; in a non-editable install, the copy under share/."""
    checkout = Path(__file__).resolve().parents[2] / "specs" / "models"
    installed = Path(sys.prefix) / "share" / "gaespec" / "specs" / "models"
    return checkout if checkout.is_dir() or not installed.is_dir() else installed


SPECS_DIR = _specs_dir()
# pairs of keys of which a child's choice replaces the parent's other one
_ALTERNATIVES = {"objective": "objectives", "objectives": "objective"}

Path_ = tuple[str, ...]


def builtin_specs() -> dict[str, Path]:
    """The specs shipped in specs/models, by name."""
    return {p.stem: p for p in sorted(SPECS_DIR.glob("*.toml"))}


def _exists(path: Path) -> bool:
    """Whether a file or folder is at `path`; a path no file can have (too long, a NUL) is not."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _resolve(path: Path) -> Path:
    """`path` made absolute, symlinks followed where the file system allows."""
    try:
        return path.resolve()
    except (OSError, ValueError, RuntimeError):  # a NUL in the name; a symlink loop
        return Path(os.path.abspath(path))


def _read_toml(path: Path, *, referrer: str | None = None) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SpecError("not a UTF-8 TOML file", file=str(path)) from None
    except (OSError, ValueError) as error:  # ValueError: a NUL in the name
        missing = isinstance(error, FileNotFoundError)
        reason = getattr(error, "strerror", None) or str(error)
        if referrer is not None:  # the `extends` that names an unreadable parent is at fault
            line, column = _locate(referrer, ("extends",))
            message = (
                f"no such spec file '{path}'"
                if missing
                else f"cannot read spec file '{path}': {reason}"
            )
            raise SpecError(
                message, file=referrer, key="extends", line=line, column=column
            ) from None
        if missing:
            raise SpecError(f"no such spec file '{path}'") from None
        raise SpecError(f"cannot read spec file: {reason}", file=str(path)) from None
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise SpecError(
            "invalid TOML: arrays or tables nested too deeply", file=str(path)
        ) from None
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        line, column = (int(found[1]), int(found[2])) if found else (None, None)
        raise SpecError(
            f"invalid TOML: {message}", file=str(path), line=line, column=column
        ) from None


def _resolve_parent(name: str, child: Path) -> Path:
    if name.endswith(".toml") or "/" in name:
        return _resolve(child.parent / name)
    for folder in (child.parent, SPECS_DIR):
        candidate = folder / f"{name}.toml"
        if _exists(candidate):
            return _resolve(candidate)
    known = {p.stem for p in child.parent.glob("*.toml")} | set(builtin_specs())
    line, column = _locate(str(child), ("extends",))
    raise SpecError(
        f"unknown parent spec '{name}'",
        file=str(child),
        key="extends",
        line=line,
        column=column,
        name=name,
        choices=known,
    )


def _merge(base: dict, child: dict, origins: dict, file: str, at: Path_ = ()) -> dict:
    """Deep-merge `child` into `base` (child wins; a table whose `kind` changes is replaced)."""
    merged = dict(base)
    for key, value in child.items():
        other = _ALTERNATIVES.get(key) if not at else None
        if other in merged:
            del merged[other]
        here = (*at, key)
        old = merged.get(key)
        same_kind = not (isinstance(old, dict) and isinstance(value, dict)) or (
            old.get("kind", value.get("kind")) == value.get("kind", old.get("kind"))
        )
        if isinstance(old, dict) and isinstance(value, dict) and same_kind:
            merged[key] = _merge(old, value, origins, file, here)
        else:
            merged[key] = value
            _mark(origins, here, value, file)
    return merged


def _mark(origins: dict, at: Path_, value: Any, file: str) -> None:
    origins[at] = file
    if isinstance(value, dict):
        for key, item in value.items():
            _mark(origins, (*at, key), item, file)


def _load_chain(path: Path, seen: tuple[Path, ...], origins: dict) -> dict:
    here = _resolve(path)
    if here in seen:
        chain = (*seen, here)
        cycle = " → ".join(p.name for p in chain[chain.index(here) :])
        line, column = _locate(str(seen[-1]), ("extends",))
        raise SpecError(
            f"cycle in extends: {cycle}",
            file=str(seen[-1]),
            key="extends",
            line=line,
            column=column,
        )
    raw = _read_toml(path, referrer=str(seen[-1]) if seen else None)
    parent_name = raw.pop("extends", None)
    if parent_name is None:
        _mark(origins, (), raw, str(path))
        return raw
    if not isinstance(parent_name, str):
        raise SpecError(
            "extends must be a spec name or a path string", file=str(path), key="extends"
        )
    parent = _load_chain(_resolve_parent(parent_name, path), (*seen, here), origins)
    return _merge(parent, raw, origins, str(path))


def _parse_value(key: str, text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    except RecursionError:
        raise SpecError(
            f"the value of '{key}' nests arrays or tables too deeply", key=OVERRIDE
        ) from None


def parse_overrides(items: Sequence[str] | Mapping[str, Any]) -> dict[str, Any]:
    """`["params.beta=4", ...]` (or a mapping) → {"params.beta": 4}; values are read as TOML."""
    if isinstance(items, Mapping):
        return dict(items)
    parsed = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(
                f"override '{item}' is not KEY=VALUE", key=OVERRIDE, fix="e.g. --set params.beta=4"
            )
        parsed[key.strip()] = _parse_value(key.strip(), value.strip())
    return parsed


def _apply_overrides(raw: dict, overrides: Mapping[str, Any], origins: dict) -> dict:
    for dotted, value in overrides.items():
        path = tuple(dotted.split("."))
        node: Any = raw
        for i, part in enumerate(path[:-1]):
            at = ".".join(path[: i + 1])
            if isinstance(node, (list, tuple)):  # an array of tables, e.g. objectives.1.params
                if not (part.isascii() and part.isdigit()) or int(part) >= len(node):
                    raise SpecError(
                        f"cannot set '{dotted}': '{at}' is not an index of a list of {len(node)}",
                        key=OVERRIDE,
                    )
                nxt = node[int(part)]
            else:
                if part not in node:  # a table the override creates comes from the override
                    origins[path[: i + 1]] = OVERRIDE
                nxt = node.setdefault(part, {})
            if not isinstance(nxt, (dict, list, tuple)):
                raise SpecError(
                    f"cannot set '{dotted}': '{at}' is a value, not a table", key=OVERRIDE
                )
            node = nxt
        if isinstance(node, (list, tuple)):
            raise SpecError(f"cannot set '{dotted}': give a key inside one entry", key=OVERRIDE)
        node[path[-1]] = value
        _mark(origins, path, value, OVERRIDE)
    return raw


# -- mapping pydantic errors back to files and keys ---------------------------------------------


def _key_path(raw: Any, loc: tuple) -> Path_:
    """The error's location as keys of the raw data (union tags and model names dropped)."""
    path: list[str] = []
    node = raw
    for part in loc:
        if part == "[key]":  # pydantic's mark of a bad key in a table: the key is the place
            break
        if isinstance(node, dict) and part in node:
            node = node[part]
            path.append(str(part))
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            path.append(str(part))
        elif not isinstance(node, (dict, list)) or isinstance(part, int):
            break
        elif len(path) == len(loc) - 1 or part not in _TAGS:
            path.append(str(part))
            node = None
    return tuple(path)


def _fields_at(model: Any, raw: Any, path: Path_) -> list[str]:
    """The keys that the table at `path` accepts (for 'closest valid choice')."""
    for part in path:
        model = _unwrap(model, raw)
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(part)
            if field is None:
                return []
            model = field.annotation
        elif typing.get_origin(model) is dict:
            model = typing.get_args(model)[1]
        elif typing.get_origin(model) is tuple:
            model = typing.get_args(model)[0]
        raw = (
            raw.get(part)
            if isinstance(raw, dict)
            else (raw[int(part)] if isinstance(raw, list) and part.isdigit() else None)
        )
    model = _unwrap(model, raw)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _unwrap(model: Any, raw: Any) -> Any:
    """Strip Optional/Annotated; pick the union member whose `kind` the raw table names."""
    while True:
        origin = typing.get_origin(model)
        if origin is typing.Annotated:
            model = typing.get_args(model)[0]
        elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            members = [
                typing.get_args(m)[0] if typing.get_origin(m) is typing.Annotated else m
                for m in typing.get_args(model)
                if m is not type(None)
            ]
            kind = raw.get("kind") if isinstance(raw, dict) else None
            chosen = [m for m in members if _kind_of(m) == kind] or members
            model = chosen[0]
        else:
            return model


def _kind_of(model: Any) -> str | None:
    if isinstance(model, type) and issubclass(model, BaseModel) and "kind" in model.model_fields:
        return model.model_fields["kind"].default
    return None


def _collect_tags() -> frozenset[str]:
    from gaespec.spec.vocabulary import DECLARATIONS

    return frozenset({CUSTOM, *(kind for registry in DECLARATIONS.values() for kind in registry)})


_TAGS = _collect_tags()


def _spec_error(error: ValidationError, raw: dict, origins: dict, fallback: str) -> SpecError:
    problems = error.errors()
    first = problems[0]
    path = _key_path(raw, first["loc"])
    file = next((origins[path[:i]] for i in range(len(path), -1, -1) if path[:i] in origins), None)
    file = file or fallback
    kind, ctx = first["type"], first.get("ctx") or {}
    name = choices = None
    if kind in ("union_tag_invalid", "literal_error"):
        given = ctx.get("tag") if kind == "union_tag_invalid" else first.get("input")
        expected = ctx.get("expected_tags") or ctx.get("expected") or ""
        choices = re.findall(r"'([^']*)'", expected)
        what = "kind" if kind == "union_tag_invalid" else "value"
        custom = ""
        if kind == "union_tag_invalid" and CUSTOM in choices:
            choices.remove(CUSTOM)
            custom = ", or a class of yours as 'package.module:Class'"
        message = f"unknown {what} '{given}' (expected one of {', '.join(choices)}{custom})"
        name = str(given)
        if kind == "union_tag_invalid":
            path = (*path, "kind")
    elif kind == "union_tag_not_found":
        message = "this table needs a `kind` key"
    elif kind == "extra_forbidden":
        name = path[-1]
        choices = _fields_at(Spec, raw, path[:-1])
        message = f"unknown key '{name}'"
    elif kind == "missing":
        message = "required key is missing"
    else:
        message = first["msg"].removeprefix("Value error, ")
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    line = column = None
    if file != OVERRIDE:
        line, column = _locate(file, path)
    return SpecError(
        message,
        file=file,
        key=".".join(path) or None,
        line=line,
        column=column,
        name=name,
        choices=choices,
    )


def load_spec(path: str | Path, overrides: Sequence[str] | Mapping[str, Any] = ()) -> Spec:
    """Load the spec at `path` (or a built-in name such as "vae"), merge `extends`, apply overrides.

    Returns a validated, immutable `Spec`; `spec.source` is the file it came from.
    """
    path = Path(path)
    if not path.suffix and not _exists(path):
        if str(path) not in builtin_specs():
            raise SpecError(
                f"no spec file '{path}' and no built-in spec of that name",
                name=str(path),
                choices=builtin_specs(),
            )
        path = builtin_specs()[str(path)]
    origins: dict[Path_, str] = {}
    raw = _load_chain(path, (), origins)
    raw = _apply_overrides(raw, parse_overrides(overrides), origins)
    try:
        spec = Spec.model_validate(raw)
    except ValidationError as error:
        raise _spec_error(error, raw, origins, str(path)) from None
    spec._source = str(path)
    spec._origins = origins
    return spec
