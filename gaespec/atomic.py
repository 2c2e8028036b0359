"""Atomic file writes: a temporary file in the target's folder, flushed, then renamed over it.

A run killed at any moment leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

TEMPORARY = ".tmp"  # the suffix of a file being written; a killed writer leaves it behind


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call write(tmp_path), flush it to disk, then rename it over `path` (same folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a run's files are as readable as any
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(
                folder
            )  # the rename itself survives a power cut only once the folder is synced
        finally:
            os.close(folder)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write text (UTF-8) atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def remove_temporaries(folder: str | os.PathLike, names: Iterable[str]) -> list[Path]:
    """Delete the temporary files that writers of `names` (files in `folder`) left when they were
    killed mid-write; call it only when no other process writes those files. Returns what it
    deleted."""
    stale = [
        p
        for name in names
        for p in Path(folder).glob(f".{glob.escape(name)}.*{TEMPORARY}")
        if p.is_file()
    ]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale
