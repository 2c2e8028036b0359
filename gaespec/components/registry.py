"""The implementation registry: the torch class of every declared kind, by role and kind, and
how a declaration becomes its constructor's arguments.

An implementation is a self-contained class (it imports only torch, einops and the standard
library, and names only other definitions of gaespec.components), built from plain arguments, so
that the composed model makes it and the code generator can copy its source into a standalone
file: each kind's torch code is written once. The wiring that turns a declaration into those
arguments stays here, outside the class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gaespec.errors import SpecError
from gaespec.registry import Registry
from gaespec.spec.vocabulary import ROLES


@dataclass(frozen=True)
class ModuleRef:
    """An argument that is another module of the model, by name (made before this one): a
    component that calls it (a VampPrior calling the encoder) is given the model's own."""

    name: str


@dataclass(frozen=True)
class Construct:
    """A component to make: its class and its constructor's keyword arguments. An argument is a
    number, a string, a tuple, another Construct, a ModuleRef, or a function of
    gaespec.components."""

    cls: type
    arguments: dict[str, Any]

    def make(self, modules: Callable[[str], Any] | None = None) -> Any:
        """The component itself; `modules(name)` gives the model's module for a ModuleRef."""
        return self.cls(**{k: _made(v, modules) for k, v in self.arguments.items()})


def _made(value: Any, modules: Callable[[str], Any] | None) -> Any:
    if isinstance(value, Construct):
        return value.make(modules)
    if isinstance(value, tuple):
        return tuple(_made(v, modules) for v in value)
    if isinstance(value, ModuleRef):
        if modules is None:
            raise SpecError(f"internal: module '{value.name}' asked for outside a model")
        return modules(value.name)
    return value


@dataclass(frozen=True)
class Kind:
    """A registered implementation: the class, and `arguments(decl, wiring)` giving its
    constructor's arguments (the wiring says what the rest of the model fixes: widths, terms)."""

    cls: type
    arguments: Callable[[Any, Any], dict[str, Any]]


IMPLEMENTATIONS: dict[str, Registry[Kind]] = {
    role: Registry(f"{role} implementation", SpecError) for role in ROLES
}


def _no_arguments(decl, wiring) -> dict[str, Any]:
    return {}


def implements(role: str, kind: str, arguments: Callable = _no_arguments):
    """Class decorator: the torch implementation of declaration `kind` for `role`, made with
    the keyword arguments `arguments(decl, wiring)` returns."""

    def add(cls: type) -> type:
        IMPLEMENTATIONS[role].register(kind)(Kind(cls, arguments))
        return cls

    return add


def _registered(role: str, kind: str) -> Kind:
    import gaespec.components  # noqa: F401  (registers every implementation)

    return IMPLEMENTATIONS[role].get(kind)


def implementation(role: str, kind: str) -> type:
    """The class implementing `kind` (importing every component module first)."""
    return _registered(role, kind).cls


def construct(role: str, kind: str, decl: Any, wiring: Any) -> Construct:
    """What to make for a declaration of `kind`: its class and constructor arguments."""
    registered = _registered(role, kind)
    return Construct(registered.cls, registered.arguments(decl, wiring))
