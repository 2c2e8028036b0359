"""Encoder and decoder architectures by name or import path; importing this never imports torch."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gaespec.errors import SpecError
from gaespec.nets import pythae_tables as _pythae_tables  # noqa: F401  (convnet, resnet)
from gaespec.nets import shapes as _shapes  # noqa: F401  (registers the built-in archs)
from gaespec.nets.custom import import_object
from gaespec.nets.registry import (
    Arch,
    ArchRejected,
    Shape,
    arch_names,
    get_arch,
    register_arch,
)

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "Arch",
    "ArchRejected",
    "arch_names",
    "decoder_output",
    "encoder_features",
    "get_arch",
    "import_object",
    "is_import_path",
    "net_kwargs",
    "make_decoder",
    "make_encoder",
    "register_arch",
]


def is_import_path(arch: str) -> bool:
    """Whether `arch` names a custom net ("package.module:Name") rather than a registered one."""
    return ":" in arch


def encoder_features(
    arch: str,
    input_shape: Shape,
    options: Mapping[str, Any] | None = None,
    *,
    file: str | None = None,
    key: str | None = None,
) -> int | None:
    """Encoder feature width F; None for a custom net (known once built); GraphError if refused."""
    if is_import_path(arch):
        return None
    try:
        return get_arch(arch, file=file, key=key).encoder_features(
            tuple(input_shape), options or {}
        )
    except ArchRejected as err:
        raise err.to_error(file=file, key=key) from None


def decoder_output(
    arch: str,
    latent_dim: int,
    output_shape: Shape,
    options: Mapping[str, Any] | None = None,
    *,
    file: str | None = None,
    key: str | None = None,
) -> Shape | None:
    """Per-sample shape the decoder produces; None for a custom net; GraphError if refused."""
    if is_import_path(arch):
        return None
    rules = get_arch(arch, file=file, key=key)
    try:
        return rules.decoder_output(latent_dim, tuple(output_shape), options or {})
    except ArchRejected as err:
        raise err.to_error(file=file, key=key) from None


def _construct(
    factory: Any, arch: str, role: str, kwargs: dict[str, Any], file: str | None, key: str | None
) -> nn.Module:
    """factory(**kwargs), with a SpecError in the user's terms when the call cannot bind."""
    from torch import nn

    shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    name = getattr(factory, "__qualname__", repr(factory))
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as err:
        raise SpecError(
            f"{role} {arch!r} cannot be called as {name}({shown}): {err}", file=file, key=key
        ) from None
    except ValueError:
        pass  # no introspectable signature: let the call itself speak
    module = factory(**kwargs)
    if not isinstance(module, nn.Module):
        raise SpecError(
            f"{role} {arch!r} gave a {type(module).__name__}, not a torch.nn.Module",
            file=file,
            key=key,
        )
    return module


def net_kwargs(fixed: dict[str, Any], options: Mapping[str, Any], role: str, arch: str, **where):
    """fixed | options, refusing options that would overwrite a fixed argument."""
    clash = sorted(set(fixed) & set(options))
    if clash:
        raise SpecError(
            f"{role} {arch!r} options may not set {', '.join(clash)} (it comes from the spec)",
            **where,
        )
    return {**fixed, **options}


def make_encoder(
    arch: str,
    input_shape: Shape,
    options: Mapping[str, Any] | None = None,
    *,
    file: str | None = None,
    key: str | None = None,
) -> nn.Module:
    """The encoder (B, *input_shape) -> (B, F) for a registered arch or a "module:Class" path."""
    options = dict(options or {})
    input_shape = tuple(input_shape)
    kwargs = net_kwargs({"input_shape": input_shape}, options, "encoder", arch, file=file, key=key)
    if is_import_path(arch):
        factory = import_object(arch, file=file, key=key)
    else:
        encoder_features(arch, input_shape, options, file=file, key=key)
        factory = get_arch(arch).encoder_factory
    return _construct(factory, arch, "encoder", kwargs, file, key)


def make_decoder(
    arch: str,
    latent_dim: int,
    output_shape: Shape,
    options: Mapping[str, Any] | None = None,
    *,
    file: str | None = None,
    key: str | None = None,
) -> nn.Module:
    """The decoder (B, latent_dim) -> (B, *output_shape); GraphError if the arch makes another."""
    options = dict(options or {})
    output_shape = tuple(output_shape)
    fixed = {"latent_dim": latent_dim, "output_shape": output_shape}
    kwargs = net_kwargs(fixed, options, "decoder", arch, file=file, key=key)
    if is_import_path(arch):
        factory = import_object(arch, file=file, key=key)
    else:
        made = decoder_output(arch, latent_dim, output_shape, options, file=file, key=key)
        if made != output_shape:
            raise ArchRejected(
                f"{arch} decoder produces shape {made}, not the requested {output_shape}",
                fix="use arch 'mlp' or a decoder made for this shape",
            ).to_error(file=file, key=key)
        factory = get_arch(arch).decoder_factory
    return _construct(factory, arch, "decoder", kwargs, file, key)
