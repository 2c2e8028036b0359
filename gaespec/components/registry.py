"""The implementation registry: the torch class of every declared kind, by role and kind."""

from __future__ import annotations

from gaespec.errors import SpecError
from gaespec.registry import Registry
from gaespec.spec.vocabulary import ROLES

IMPLEMENTATIONS: dict[str, Registry[type]] = {
    role: Registry(f"{role} implementation", SpecError) for role in ROLES
}


def implements(role: str, kind: str):
    """Class decorator: the torch implementation of declaration `kind` for `role`."""
    return IMPLEMENTATIONS[role].register(kind)


def implementation(role: str, kind: str) -> type:
    """The class implementing `kind` (importing every component module first)."""
    import gaespec.components  # noqa: F401  (registers every implementation)

    return IMPLEMENTATIONS[role].get(kind)
