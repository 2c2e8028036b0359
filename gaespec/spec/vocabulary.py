"""The spec's vocabulary: one declaration class per component kind, registered by role.

A declaration is pure data (pydantic, no torch): its fields are the spec's keys, and it tells the
graph which tensors and modules the component reads. The torch implementation of each kind is
registered under the same kind in `gaespec.components`.
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping
from typing import Annotated, ClassVar, NamedTuple, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag

from gaespec.errors import SpecError
from gaespec.registry import Registry

ROLES = ("posterior", "prior", "term", "module")
DECLARATIONS: dict[str, Registry[type[Declaration]]] = {
    role: Registry(f"{role} kind", SpecError) for role in ROLES
}


def _identifier(name: str) -> str:
    # ASCII only: Python folds other letters (NFKC), so 'ｘ' and 'x' would be one name in code
    ok = name.isascii() and name.isidentifier() and not keyword.iskeyword(name)
    if not ok or name.startswith("__"):
        raise ValueError(
            f"'{name}' is not a valid name: use ASCII letters, digits and _ (not first)"
        )
    return name


Identifier = Annotated[str, AfterValidator(_identifier)]


def _tensor_name(name: str) -> str:
    call, dot, part = name.partition(".")
    _identifier(call)
    if dot:
        _identifier(part)
    return name


# a tensor of the program: a name, or `<call>.<part>` for a by-product a call writes
TensorName = Annotated[str, AfterValidator(_tensor_name)]


class Read(NamedTuple):
    """An input of a component: a tensor or module name, whether gradients stop there, its key."""

    name: str
    key: str
    detached: bool = False
    expects: str | None = None  # what the named module must provide ("codebook", "critic")
    argument: bool = True  # (a module) the implementation is given it, to call


class Declaration(BaseModel):
    """Base of every component declaration: strict (unknown keys are errors), immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    summary: ClassVar[str] = ""
    straight_through: ClassVar[bool] = False  # (modules) gradients skip the parameters
    # (posteriors, priors, modules) whether it owns parameters, and so must be trained by an
    # objective; a test holds this equal to what the implementation makes
    has_parameters: ClassVar[bool] = True
    # (posteriors, priors) whether log_prob(z) is known at the samples a term reads
    has_density: ClassVar[bool] = False

    def reads(self, modules: Mapping[str, Declaration]) -> tuple[Read, ...]:
        """The tensors this component reads, given the spec's extra modules by name."""
        return ()

    def uses(self, modules: Mapping[str, Declaration]) -> tuple[Read, ...]:
        """The modules this component calls (a critic, the prior) or whose outputs it reads."""
        return ()

    def differentiates(self) -> tuple[str, str] | None:
        """(terms) (output, wrt) when the term takes the gradient of one tensor with respect to
        another: the calls between them then run with gradients, in evaluation too."""
        return None

    def writes(self, name: str) -> tuple[str, ...]:
        """(modules) every tensor the module `name` writes: its outputs, then any by-products."""
        return self.outputs()

    def outputs(self) -> tuple[str, ...]:
        """(modules) the tensors it writes that other components may name."""
        return ()

    def call_parts(self, name: str) -> tuple[str, ...]:
        """(modules) what a call of the module `name` writes beside its result, each as
        `<call>.<part>`: by default the by-products its stage writes (`<name>.<part>`)."""
        return tuple(w.split(".", 1)[1] for w in self.writes(name)[1:])

    def check(self, spec, key: str) -> None:
        """Raise spec.error(...) where this component cannot work with the rest of the spec."""


def declare(role: str):
    """Class decorator: register a declaration under its `kind` default, for `role`."""

    def add(cls: type[Declaration]) -> type[Declaration]:
        kind = cls.model_fields["kind"].default
        DECLARATIONS[role].register(kind)(cls)
        return cls

    return add


# the tag under which a kind given by import path ("package.module:Class") is validated
CUSTOM = "custom"


def _import_path(kind: str) -> str:
    module, colon, name = kind.partition(":")
    parts = [*module.split("."), *name.split(".")]
    if not colon or not all(p.isidentifier() and p.isascii() for p in parts):
        raise ValueError(f"'{kind}' is not an import path 'package.module:Class'")
    return kind


class Custom(Declaration):
    """A kind of the user's own package: `kind = "package.module:Class"`, made with the table's
    other keys as keyword arguments (after what gaespec gives it). It is imported only when a
    model is built, and a saved run naming it loads only with trust_code."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)
    kind: Annotated[str, AfterValidator(_import_path)]

    @property
    def options(self) -> dict:
        """The constructor's keyword arguments from the spec: every key it does not declare."""
        return dict(self.model_extra or {})


class CustomTerm(Custom):
    """A term class of yours: made with the options, called with the tensors `inputs`, then the
    modules `modules` (which it may call); it returns a batch mean.

    Attributes:
        inputs: the tensors it reads, in order. modules: the modules it is given, in order.
    """

    inputs: tuple[Identifier, ...] = ()
    modules: tuple[Identifier, ...] = ()
    summary: ClassVar[str] = "a term class of your own package, by import path"

    def reads(self, modules):
        return tuple(Read(name, "inputs") for name in self.inputs)

    def uses(self, modules):
        return tuple(Read(name, "modules") for name in self.modules)


class CustomPosterior(Custom):
    """A posterior head of yours: an nn.Module made as Class(features=, latent_dim=, **options),
    mapping the encoder's features (b f) to a distribution with `.mean` (b d) and `rsample(k)`
    (k b d). gaespec cannot know its density: the terms that need one refuse it."""

    summary: ClassVar[str] = "a posterior class of your own package, by import path"
    has_density: ClassVar[bool] = False


class _Trainable(Custom):
    """A kind of the user's that may own parameters: the spec says whether it does.

    Attributes:
        trainable: whether it has parameters that an objective trains.
    """

    trainable: bool = True

    @property
    def has_parameters(self) -> bool:  # type: ignore[override]
        return self.trainable


class CustomPrior(_Trainable):
    """A prior of yours: an nn.Module made as Class(latent_dim=, **options); called with no
    input it gives a distribution with `sample(n, device=, dtype=)` (and `log_prob` where a
    term needs it). Untrainable unless `trainable = true`."""

    trainable: bool = False
    summary: ClassVar[str] = "a prior class of your own package, by import path"
    has_density: ClassVar[bool] = True  # its class promises log_prob where a term needs it


class CustomModule(_Trainable):
    """A module of yours, made as Class(**options), called by the spec's [calls] and by terms
    that are given it. Trainable unless `trainable = false`."""

    summary: ClassVar[str] = "a module class of your own package, by import path"


# the roles whose kinds a user's package may add
CUSTOMIZABLE = {
    "term": CustomTerm,
    "posterior": CustomPosterior,
    "prior": CustomPrior,
    "module": CustomModule,
}


def is_custom(decl: Declaration) -> bool:
    """Whether a declaration names a kind of the user's package by import path."""
    return isinstance(decl, tuple(CUSTOMIZABLE.values()))


def _tag(value) -> str | None:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return CUSTOM if isinstance(kind, str) and ":" in kind else kind


def union(role: str):
    """The discriminated union (on `kind`) of every declaration registered for `role`, and of
    a user's kind by import path where the role admits one."""
    classes = tuple(cls for _, cls in DECLARATIONS[role].items())
    if role in CUSTOMIZABLE:
        tagged = [Annotated[cls, Tag(kind)] for kind, cls in DECLARATIONS[role].items()]
        tagged.append(Annotated[CUSTOMIZABLE[role], Tag(CUSTOM)])
        return Annotated[Union[tuple(tagged)], Discriminator(_tag)]  # noqa: UP007
    if len(classes) == 1:
        return classes[0]
    return Annotated[Union[classes], Field(discriminator="kind")]  # noqa: UP007
