"""Writes a spec (nested dicts of TOML values) back to TOML text, for a run's resolved spec.toml."""

from __future__ import annotations

import datetime
import json
import math
from typing import Any


def _string(text: str) -> str:
    # JSON's escapes are TOML's; JSON leaves DEL bare, which TOML forbids, and with ensure_ascii
    # writes characters beyond U+FFFF as surrogate pairs, which TOML also forbids
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _key(name: str) -> str:
    bare = name.replace("_", "").replace("-", "").isalnum() and name.isascii()
    return name if bare else _string(name)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (datetime.date, datetime.time)):  # a datetime is a date
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _is_table_array(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, dict) for v in value)
    )


def dumps(data: dict[str, Any]) -> str:
    """TOML text for `data`: scalars, then a [table] per dict, an [[array]] per list of them."""
    lines: list[str] = []

    def table(prefix: str, body: dict[str, Any]) -> None:
        scalars = {
            k: v for k, v in body.items() if not isinstance(v, dict) and not _is_table_array(v)
        }
        for k, v in scalars.items():
            lines.append(f"{_key(k)} = {_value(v)}")
        for k, v in body.items():
            name = f"{prefix}.{_key(k)}" if prefix else _key(k)
            if isinstance(v, dict):
                lines.append("")
                lines.append(f"[{name}]")
                table(name, v)
            elif _is_table_array(v):
                for item in v:
                    lines.append("")
                    lines.append(f"[[{name}]]")
                    table(name, item)

    table("", data)
    return "\n".join(lines).lstrip("\n") + "\n"


def spec_toml(spec) -> str:
    """A validated Spec as TOML, every default written out: loading it gives the same spec."""
    # python mode: a date in a net's options stays a date, where JSON would make it a string
    data = spec.model_dump(exclude_none=True)
    if not data["objectives"]:
        del data["objectives"]
    return dumps(data)
