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
    from gaespec.samplers import gmm, prior  # noqa: F401
