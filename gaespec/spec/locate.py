"""Finds where a key path is written in a TOML file, for error messages (line, column)."""

from __future__ import annotations

import re
from pathlib import Path


def locate(path_file: str, keys: tuple[str, ...]) -> tuple[int | None, int | None]:
    """Line and column of the deepest prefix of `keys` written in the file, if any."""
    try:
        lines = Path(path_file).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None, None
    header: tuple[str, ...] = ()
    best = (0, None, None)
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        table = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?", stripped)
        if table:
            header = tuple(p.strip().strip('"') for p in table[1].split("."))
            full, column = header, line.index(table[1]) + 1
        else:
            assign = re.match(r'^\s*([A-Za-z0-9_\-\."]+)\s*=', line)
            if not assign:
                continue
            full = header + tuple(p.strip().strip('"') for p in assign[1].split("."))
            column = assign.start(1) + 1
        # array-of-tables indices are not in the header; compare the keys without them
        bare = tuple(k for k in keys if not k.isdigit())
        if full == bare[: len(full)] and len(full) > best[0]:
            best = (len(full), number, column)
    return best[1], best[2]
