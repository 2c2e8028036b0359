"""The registry of samplers by name (prior, gmm, ...), as in Ghosh et al. (arXiv:1903.12436)."""

from __future__ import annotations

from collections.abc import Callable

from gaespec.errors import SamplerError
from gaespec.registry import Registry
from gaespec.samplers.base import Sampler

SAMPLERS: Registry[type[Sampler]] = Registry("sampler", SamplerError)


def sampler(name: str) -> Callable[[type[Sampler]], type[Sampler]]:
    """Class decorator: register a Sampler subclass as `name`; a second `name` raises ValueError."""

    def add(cls: type[Sampler]) -> type[Sampler]:
        SAMPLERS.register(name)(cls)
        cls.name = name
        return cls

    return add


def load_builtin() -> None:
    """Import every built-in sampler module, which registers them."""
    from gaespec.samplers import gmm, iaf, maf, prior, two_stage, vamp  # noqa: F401


def known_samplers() -> list[str]:
    """Every registered sampler's name, sorted."""
    load_builtin()
    return list(SAMPLERS)


def make_sampler(name: str, **options) -> Sampler:
    """A new, unfitted sampler `name` with its options (e.g. n_components=10, seed=0 for gmm)."""
    load_builtin()
    cls = SAMPLERS.get(name)
    accepted = cls.option_names()
    for option in options:
        if option not in accepted:
            raise SamplerError(
                f"the {name} sampler has no option '{option}' "
                f"(options: {', '.join(accepted) or 'none'})",
                name=option,
                choices=accepted,
            )
    return cls(**options)
