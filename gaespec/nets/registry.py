"""Registry of encoder/decoder architectures by name; torch-free, so specs validate without it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from gaespec.errors import GaespecError, GraphError, SpecError
from gaespec.registry import Registry

Shape = tuple[int, ...]


class ArchRejected(ValueError):
    """An architecture refuses a shape or an option; `to_error` turns it into a located error."""

    def __init__(
        self,
        message: str,
        *,
        name: str | None = None,
        choices: Iterable[str] | None = None,
        fix: str | None = None,
    ):
        self.message = message
        self.name = name
        self.choices = None if choices is None else sorted(choices)
        self.fix = fix
        super().__init__(message)

    def to_error(
        self,
        cls: type[GaespecError] = GraphError,
        *,
        file: str | None = None,
        key: str | None = None,
    ) -> GaespecError:
        """The same refusal as a gaespec error (GraphError unless told), located at file and key."""
        return cls(
            self.message, file=file, key=key, name=self.name, choices=self.choices, fix=self.fix
        )


def check_shape(shape: Iterable[int], what: str) -> Shape:
    """`shape` as a tuple of positive ints, or ArchRejected naming `what`."""
    try:
        dims = tuple(shape)
    except TypeError:
        raise ArchRejected(f"{what} must be a list of positive integers, got {shape!r}") from None
    if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in dims):
        raise ArchRejected(f"{what} must be a list of positive integers, got {list(dims)!r}")
    return dims


def check_latent_dim(latent_dim: int, arch: str) -> int:
    """`latent_dim` if it is a positive int, else ArchRejected."""
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
        raise ArchRejected(
            f"{arch} decoder needs a positive integer latent dim, got {latent_dim!r}"
        )
    return latent_dim


class Arch:
    """One named architecture: lazy encoder/decoder factories and torch-free shape rules.

    Attributes:
        name: the spec's `arch = "..."` value.
        encoder: import path "module:Class" of the encoder, called as Cls(input_shape=, **options).
        decoder: import path of the decoder, called as Cls(latent_dim=, output_shape=, **options).
        encoder_options: option names the encoder accepts.
        decoder_options: option names the decoder accepts.
    """

    name: ClassVar[str]
    encoder: ClassVar[str]
    decoder: ClassVar[str]
    encoder_options: ClassVar[frozenset[str]] = frozenset()
    decoder_options: ClassVar[frozenset[str]] = frozenset()

    @property
    def encoder_factory(self) -> Callable[..., Any]:
        """The encoder class; importing it imports torch."""
        from gaespec.nets.custom import import_object

        return import_object(self.encoder)

    @property
    def decoder_factory(self) -> Callable[..., Any]:
        """The decoder class; importing it imports torch."""
        from gaespec.nets.custom import import_object

        return import_object(self.decoder)

    def check_options(self, options: Mapping[str, Any], role: str) -> None:
        """ArchRejected on the first option name that this arch's encoder or decoder lacks."""
        known = self.encoder_options if role == "encoder" else self.decoder_options
        for option in options:
            if option not in known:
                listed = ", ".join(repr(k) for k in sorted(known)) or "none"
                raise ArchRejected(
                    f"{self.name} {role} has no option {option!r} (its options: {listed})",
                    name=option,
                    choices=known,
                )

    def encoder_features(self, input_shape: Shape, options: Mapping[str, Any]) -> int:
        """The encoder's feature width F for this input shape, or ArchRejected saying why not."""
        raise NotImplementedError

    def decoder_output(
        self, latent_dim: int, output_shape: Shape, options: Mapping[str, Any]
    ) -> Shape:
        """The per-sample shape the decoder produces when asked for `output_shape`."""
        raise NotImplementedError


_ARCHS: Registry[Arch] = Registry("architecture", SpecError)


def register_arch(cls: type[Arch]) -> type[Arch]:
    """Class decorator: register an Arch under its `name`; a name taken twice raises ValueError."""
    _ARCHS.register(cls.name)(cls())
    return cls


def arch_names() -> list[str]:
    """The registered architecture names, sorted."""
    return list(_ARCHS)


def get_arch(name: str, *, file: str | None = None, key: str | None = None) -> Arch:
    """The Arch registered as `name`; SpecError listing the known names and the closest."""
    return _ARCHS.get(
        name,
        file=file,
        key=key,
        fix="name a known architecture or give an import path 'package.module:Class'",
    )
