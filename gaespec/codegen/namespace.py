"""Unique Python names for the things a spec names, as torch.fx's `_Namespace` does.

A spec's names are identifiers already; a namespace only makes sure that none of them shadows
another or a name the emitted code itself uses, by appending underscores where they would.
"""

from __future__ import annotations

import builtins
import keyword
from collections.abc import Iterable

from gaespec.codegen.literals import identifier


class Namespace:
    """Keys (a spec name, or "name.part" for a helper of it) → distinct identifiers."""

    def __init__(self, taken: Iterable[str] = ()):
        self._taken = set(taken) | set(keyword.kwlist) | set(dir(builtins))
        self._names: dict[str, str] = {}

    def __getitem__(self, key: str) -> str:
        """The identifier of `key`, claimed on first use: the key with "." as "_", made unique."""
        return self.claim(key)

    def claim(self, key: str, base: str | None = None) -> str:
        """The identifier of `key`; on first use `base` (or the key with "." as "_"), unique."""
        if key not in self._names:
            self._names[key] = self._claim(base or key.replace(".", "_"))
        return self._names[key]

    def take(self, names: Iterable[str]) -> None:
        """Mark `names` as used by the emitted code itself."""
        self._taken.update(names)

    def _claim(self, base: str) -> str:
        name = identifier(base, "name")
        while name in self._taken:
            name += "_"
        self._taken.add(name)
        return name
