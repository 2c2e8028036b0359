"""Finds where a key path is written in a TOML file, for error messages (line, column)."""

from __future__ import annotations

import re
from pathlib import Path

_TABLE = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
_ASSIGN = re.compile(r'^\s*([A-Za-z0-9_\-\."]+)\s*=')


def _keys(text: str) -> tuple[str, ...]:
    return tuple(part.strip().strip('"') for part in text.split("."))


def locate(path_file: str, keys: tuple[str, ...]) -> tuple[int | None, int | None]:
    """Line and column of the deepest prefix of `keys` written in the file, if any.

    Keys index arrays of tables by number (`objectives.1.loss` is in the second [[objectives]]).
    """
    try:
        lines = Path(path_file).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None, None
    header: tuple[str, ...] = ()
    counts: dict[tuple[str, ...], int] = {}
    best = (0, None, None)
    for number, line in enumerate(lines, start=1):
        table = _TABLE.match(line)
        if table:
            names = _keys(table[2])
            if table[1] == "[[":
                counts[names] = counts.get(names, -1) + 1
                names = (*names, str(counts[names]))
            header, full, column = names, names, line.index(table[2]) + 1
        else:
            assign = _ASSIGN.match(line)
            if not assign:
                continue
            full, column = header + _keys(assign[1]), assign.start(1) + 1
        if full == keys[: len(full)] and len(full) > best[0]:
            best = (len(full), number, column)
    return best[1], best[2]
