"""Fitted samplers saved in a run folder and reused: RUN/samplers/<name>-<options hash>/ holds
settings.json (the sampler, its options, fingerprints of the model's weights, of the training
data and of the fitted tensors, what fitting did) and state.safetensors (the fitted tensors).

Loading reads JSON and safetensors only (no pickle); both files are written atomically, the state
first, so a reader sees settings.json only beside the state it describes (its fingerprint says so).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from gaespec.atomic import atomic_write, atomic_write_text
from gaespec.errors import SamplerError
from gaespec.samplers.base import Sampler
from gaespec.samplers.registry import make_sampler

FOLDER = "samplers"  # inside a run folder
SETTINGS = "settings.json"
STATE = "state.safetensors"
FORMAT = 1  # the layout of a saved sampler; another layout is fitted again, never misread


def fingerprint(tensors: Iterable[tuple[str, torch.Tensor]]) -> str:
    """SHA-256 (hex) of named tensors: their names, dtypes, shapes and bytes, in the given order."""
    digest = hashlib.sha256()
    for name, t in tensors:
        t = t.detach().to("cpu").contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def _state_fingerprint(state: dict[str, torch.Tensor]) -> str:
    return fingerprint(sorted(state.items()))


def folder_of(run_folder: str | Path, sampler: Sampler) -> Path:
    """RUN/samplers/<name>-<hash of the name and every option, defaults included>."""
    text = json.dumps({"sampler": sampler.name, "options": sampler.options()}, sort_keys=True)
    key = hashlib.sha256(text.encode()).hexdigest()[:12]
    return Path(run_folder) / FOLDER / f"{sampler.name}-{key}"


def save_sampler(
    sampler: Sampler, folder: str | Path, *, model_sha256: str, data_sha256: str
) -> Path:
    """Write the fitted `sampler` into `folder` (state.safetensors, then settings.json)."""
    folder = Path(folder)
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in sampler.state().items()}
    atomic_write(folder / STATE, lambda tmp: save_file(state, tmp))
    settings = {
        "format": FORMAT,
        "sampler": sampler.name,
        "options": sampler.options(),
        "model_sha256": model_sha256,
        "data_sha256": data_sha256,
        "state_sha256": _state_fingerprint(state),
        "report": sampler.report,
    }
    atomic_write_text(folder / SETTINGS, json.dumps(settings, indent=2) + "\n")
    return folder


def _read_settings(folder: Path) -> dict:
    path = folder / SETTINGS
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SamplerError(f"'{path}' is missing: no sampler was saved there") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise SamplerError(
            f"'{path}' is not readable JSON: {error}", fix="delete the folder to fit again"
        ) from None
    keys = ("format", "sampler", "options", "state_sha256")
    if not isinstance(settings, dict) or not all(k in settings for k in keys):
        raise SamplerError(
            f"'{path}' is not a saved sampler's settings (it needs {', '.join(keys)})",
            fix="delete the folder to fit again",
        )
    if settings["format"] != FORMAT:
        raise SamplerError(
            f"'{path}' has format {settings['format']!r}, this gaespec reads format {FORMAT}",
            fix="delete the folder to fit again",
        )
    return settings


def _read_state(folder: Path, expected_sha256: str) -> dict[str, torch.Tensor]:
    path = folder / STATE
    try:
        with safe_open(str(path), framework="pt") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as error:  # safetensors raises its own error types for damaged files
        raise SamplerError(
            f"'{path}' is not a readable safetensors file: {error}",
            fix="delete the folder to fit again",
        ) from None
    if _state_fingerprint(state) != expected_sha256:
        raise SamplerError(
            f"'{path}' is not the state that '{folder / SETTINGS}' describes",
            fix="delete the folder to fit again",
        )
    return state


def load_sampler(folder: str | Path, model: nn.Module) -> Sampler:
    """The sampler saved in `folder`, ready to draw for `model` (which should be the model it was
    fitted for: `fitted_sampler` checks that; this function does not)."""
    folder = Path(folder)
    settings = _read_settings(folder)
    options = settings["options"]
    if not isinstance(options, dict):
        raise SamplerError(f"'{folder / SETTINGS}': options must be a JSON object")
    state = _read_state(folder, settings["state_sha256"])
    sampler = make_sampler(settings["sampler"], **options)
    try:
        sampler.restore(model, state)
    except (KeyError, RuntimeError) as error:
        raise SamplerError(
            f"the state in '{folder / STATE}' does not fit the {sampler.name} sampler "
            f"or this model: {error}",
            fix="delete the folder to fit again",
        ) from None
    sampler.report = settings.get("report")
    sampler.saved_in, sampler.reused = folder, True
    return sampler


def fitted_sampler(
    run_folder: str | Path,
    model: nn.Module,
    name: str,
    x_train: torch.Tensor | None = None,
    **options,
) -> Sampler:
    """Sampler `name` with `options`, fitted on x_train's codes under `model`: loaded from
    RUN/samplers/ when it was saved there for the same options, model weights and data, else
    fitted and saved there. A sampler that fits nothing (prior, vamp) is made, never saved."""
    sampler = make_sampler(name, **options)
    if not sampler.uses_codes or x_train is None:  # fit says what is wrong with a missing x_train
        return sampler.fit(model, x_train)
    folder = folder_of(run_folder, sampler)
    model_sha256 = fingerprint(sorted(model.state_dict().items()))
    data_sha256 = fingerprint([("x_train", x_train)])
    try:
        settings = _read_settings(folder)
        if (
            settings["sampler"] == sampler.name
            and settings["options"] == sampler.options()
            and settings.get("model_sha256") == model_sha256
            and settings.get("data_sha256") == data_sha256
        ):
            return load_sampler(folder, model)
    except SamplerError:  # nothing saved, or a damaged save: fit again and write over it
        pass
    sampler.fit(model, x_train)
    sampler.saved_in = save_sampler(
        sampler, folder, model_sha256=model_sha256, data_sha256=data_sha256
    )
    return sampler
