"""The built-in ops a program may call besides modules: each takes the model, then the tensors."""

from __future__ import annotations

from collections.abc import Callable

from gaespec.errors import GraphError


def rsample(model, q):
    """K reparameterised samples of the posterior q, (k b d), K = the spec's latent.samples."""
    return q.rsample(model.samples)


BUILTIN_OPS: dict[str, Callable] = {"rsample": rsample}


def builtin_op(name: str) -> Callable:
    """The built-in op `name`."""
    if name not in BUILTIN_OPS:
        raise GraphError(f"internal: unknown built-in op '{name}'", choices=BUILTIN_OPS, name=name)
    return BUILTIN_OPS[name]
