"""Registries keyed by name: a second registration or a missing name raises, listing the names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from gaespec.errors import GaespecError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name → object table for one role (posterior, term, source, ...); one per role."""

    def __init__(self, role: str, error: type[GaespecError] = GaespecError):
        self.role = role
        self.error = error
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: file `obj` under `name`; a second registration under the same name raises."""

        def add(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.role} '{name}' is registered twice")
            self._entries[name] = obj
            return obj

        return add

    def get(
        self, name: str, *, file: str | None = None, key: str | None = None, fix: str | None = None
    ) -> T:
        """The entry called `name`; a miss raises this registry's error with the closest names."""
        try:
            return self._entries[name]
        except KeyError:
            raise self.error(
                f"unknown {self.role} '{name}' (known: {', '.join(sorted(self._entries))})",
                file=file,
                key=key,
                name=name,
                choices=self._entries,
                fix=fix,
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def items(self) -> list[tuple[str, T]]:
        """Every (name, entry), sorted by name."""
        return sorted(self._entries.items())
