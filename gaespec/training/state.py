"""Training state on disk without pickle: tensors in safetensors, the rest as JSON in its metadata.
Written atomically (gaespec.atomic), so a killed run never leaves half a checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from gaespec.atomic import atomic_write
from gaespec.errors import RunError

TENSOR, DICT, TUPLE = "__tensor__", "__dict__", "__tuple__"


def _split(value: Any, tensors: dict[str, torch.Tensor], at: str) -> Any:
    """Replace every tensor in a nested structure by a reference; tensors go to `tensors`."""
    if isinstance(value, torch.Tensor):
        tensors[at] = value.detach().cpu().contiguous()
        return {TENSOR: at}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _split(v, tensors, f"{at}.{k}") for k, v in value.items()}
        return {DICT: [[k, _split(v, tensors, f"{at}.{k}")] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {TUPLE: [_split(v, tensors, f"{at}.{i}") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_split(v, tensors, f"{at}.{i}") for i, v in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {type(value).__name__} at {at} without pickle")


def _join(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, dict):
        if TENSOR in value:
            return tensors[value[TENSOR]]
        if DICT in value:
            return {k: _join(v, tensors) for k, v in value[DICT]}
        if TUPLE in value:
            return tuple(_join(v, tensors) for v in value[TUPLE])
        return {k: _join(v, tensors) for k, v in value.items()}
    if isinstance(value, list):
        return [_join(v, tensors) for v in value]
    return value


def save_state(path: str | Path, state: dict[str, Any]) -> None:
    """Save nested tensors, numbers and strings in one safetensors file, atomically."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _split(state, tensors, "s")
    # safetensors refuses tensors that share memory; stored copies never do
    tensors = {k: v.clone() for k, v in tensors.items()}
    metadata = {"gaespec_state": json.dumps(skeleton)}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def load_state(path: str | Path) -> dict[str, Any]:
    """Load what save_state wrote."""
    path = Path(path)
    if not path.exists():
        raise RunError(f"no such file '{path}'")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as error:  # safetensors raises its own error types for damaged files
        raise RunError(f"'{path}' is not a readable safetensors file: {error}") from None
    if "gaespec_state" not in metadata:
        raise RunError(f"'{path}' holds no gaespec training state")
    try:
        skeleton = json.loads(metadata["gaespec_state"])
    except (json.JSONDecodeError, RecursionError) as error:
        why = "nested too deeply" if isinstance(error, RecursionError) else error
        raise RunError(
            f"'{path}' is damaged: its training state is not valid JSON: {why}"
        ) from None
    if not isinstance(skeleton, dict):
        raise RunError(f"'{path}' is damaged: its training state is not a JSON object")
    try:
        return _join(skeleton, tensors)
    except (KeyError, TypeError, ValueError, RecursionError):  # references that do not resolve
        raise RunError(
            f"'{path}' is damaged: its training state does not match its tensors"
        ) from None
