"""Shape inference on the graph, before any torch: each tensor's per-sample shape, checked."""

from __future__ import annotations

from gaespec import nets
from gaespec.errors import GaespecError
from gaespec.spec.schema import Spec


def _fmt(shape) -> str:
    return "×".join(str(s) for s in shape)


def _rule(spec: Spec, key: str, call, *args):
    """Run a net's shape rule; re-raise its refusal at the spec's key (file and line)."""
    try:
        return call(*args)
    except GaespecError as error:
        raise spec.error(
            error.message, key, fix=error.fix, name=error.name, choices=error.choices
        ) from None


def infer_shapes(
    spec: Spec,
    stages: tuple[str, ...],
    roles: dict[str, str],
    given: frozenset[str] = frozenset(),
) -> dict[str, tuple[int, ...] | None]:
    """Per-sample shapes of the default program's tensors (by their `roles`) and every stage's
    outputs; None where a custom net decides (checked when the model is built), as do the nets
    in `given` ("encoder", "decoder") that the user passes in Python. Raises GraphError where two
    shapes disagree."""
    d = spec.latent.dim
    shapes: dict[str, tuple[int, ...] | None] = {roles["data"]: tuple(spec.input.shape)}
    features = None
    if "encoder" not in given:
        features = _rule(
            spec,
            "encoder.arch",
            nets.encoder_features,
            spec.encoder.arch,
            spec.input.shape,
            spec.encoder.options,
        )
    shapes[roles["features"]] = None if features is None else (features,)
    shapes[roles["posterior"]] = shapes[roles["code"]] = (d,)
    for name in (*stages, *(m for m in spec.modules if m not in stages)):
        module = spec.modules[name]
        if not hasattr(module, "input"):  # a module of the user's: its calls say what it reads
            continue
        shape = shapes.get(module.input)
        if module.input in shapes and shape is None:
            raise spec.error(
                f"module '{name}' reads '{module.input}', whose width a custom net decides only "
                "when the model is built",
                f"modules.{name}.input",
                fix="read z instead",
            )
        if shape is not None and len(shape) != 1:
            raise spec.error(
                f"module '{name}' needs a flat code, but '{module.input}' has shape {_fmt(shape)}",
                f"modules.{name}.input",
            )
        for output in module.outputs() if name in stages else ():
            shapes[output] = shape
    code = shapes.get(spec.decoder.input)
    width = code[0] if code is not None else spec.decoder.latent_dim
    if (
        spec.decoder.latent_dim is not None
        and code is not None
        and spec.decoder.latent_dim != width
    ):
        raise spec.error(
            f"the decoder accepts a {spec.decoder.latent_dim}-dim code, but its input "
            f"'{spec.decoder.input}' has {width} dims (latent.dim = {d})",
            "decoder.latent_dim",
            name=str(width),
            choices=[str(width)],
        )
    out = None
    if "decoder" not in given:
        out = _rule(
            spec,
            "decoder.arch",
            nets.decoder_output,
            spec.decoder.arch,
            width,
            spec.input.shape,
            spec.decoder.options,
        )
    if out is not None and tuple(out) != tuple(spec.input.shape):
        raise spec.error(
            f"decoder '{spec.decoder.arch}' outputs {_fmt(out)}, but input.shape is "
            f"{_fmt(spec.input.shape)}: reconstructions must have the data's shape",
            "decoder.arch",
        )
    shapes[roles["reconstruction"]] = tuple(spec.input.shape)
    return shapes
