"""Checks of a sampler's options: each kind of bad value gets one message, naming the sampler,
the option and the value given, so every sampler refuses the same mistake in the same words."""

from __future__ import annotations

import math
import tomllib

import torch

from gaespec.errors import SamplerError

EMBEDDINGS = ("mean", "sample")  # the codes a sampler fits: posterior means or posterior samples


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(sampler: str, option: str, value) -> int:
    """`value` if it is an integer ≥ 1."""
    if not _is_int(value) or value < 1:
        raise SamplerError(
            f"the {sampler} sampler's {option} must be a positive integer, got {value!r}"
        )
    return value


def whole_number(sampler: str, option: str, value) -> int:
    """`value` if it is an integer ≥ 0."""
    if not _is_int(value) or value < 0:
        raise SamplerError(
            f"the {sampler} sampler's {option} must be an integer ≥ 0, got {value!r}"
        )
    return value


def positive_number(sampler: str, option: str, value) -> float:
    """`value` as a float if it is a finite number > 0."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise SamplerError(f"the {sampler} sampler's {option} must be a number > 0, got {value!r}")
    if not math.isfinite(value):
        raise SamplerError(f"the {sampler} sampler's {option} must be finite, got {value!r}")
    return float(value)


def fraction(sampler: str, option: str, value) -> float:
    """`value` as a float if it is a number in [0, 1)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
        raise SamplerError(
            f"the {sampler} sampler's {option} must be a number in [0, 1), got {value!r}"
        )
    return float(value)


def sizes(sampler: str, option: str, value) -> tuple[int, ...]:
    """`value` as a tuple if it is a non-empty list of positive integers (layer widths)."""
    if (
        not isinstance(value, (list, tuple))
        or not value
        or not all(_is_int(v) and v >= 1 for v in value)
    ):
        raise SamplerError(
            f"the {sampler} sampler's {option} must be a non-empty list of positive integers, "
            f"got {value!r}",
            fix=f"e.g. {option}=[128, 128]",
        )
    return tuple(value)


def embedding(sampler: str, value) -> str:
    """`value` if it names the codes to fit on: "mean" or "sample" of the posterior."""
    if value not in EMBEDDINGS:
        raise SamplerError(
            f"the {sampler} sampler's embedding must be 'mean' (posterior means) or 'sample' "
            f"(one posterior sample per training image), got {value!r}",
            name=str(value),
            choices=EMBEDDINGS,
        )
    return value


def device(sampler: str, value) -> str | None:
    """`value` if it is None (the model's device) or a device torch knows, e.g. "cpu", "cuda:0"."""
    if value is None:
        return None
    try:
        torch.device(value)
    except (RuntimeError, TypeError):
        raise SamplerError(
            f"the {sampler} sampler's device must be a torch device such as 'cpu' or 'cuda:0', "
            f"got {value!r}",
            fix="leave it out to fit on the model's device",
        ) from None
    return str(value)


def seed(sampler: str, value) -> int:
    """`value` if it is an integer ≥ 0 (a seed for torch and scikit-learn)."""
    if not _is_int(value) or not 0 <= value < 2**32:
        raise SamplerError(
            f"the {sampler} sampler's seed must be an integer in [0, 2**32), got {value!r}"
        )
    return value


def parse_options(items: list[str]) -> dict:
    """`["lr=1e-3", "hidden=[64, 64]", "device=cpu"]` → {"lr": 0.001, "hidden": [64, 64],
    "device": "cpu"}: each value read as TOML, else kept as text (the CLI's `--option`)."""
    parsed = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SamplerError(
                f"sampler option '{item}' is not KEY=VALUE", fix="e.g. --option n_components=10"
            )
        try:
            parsed[key] = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            parsed[key] = text.strip()
        except RecursionError:
            raise SamplerError(f"the value of sampler option '{key}' nests too deeply") from None
    return parsed
