"""Helpers for the code generator's tests: emit a spec, import the file, compare with gaespec."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path

import torch

from gaespec.codegen import emit

_counter = itertools.count()


def import_source(source: str, folder: Path):
    """Write `source` into `folder` and import it as a fresh module."""
    name = f"emitted_{next(_counter)}"
    path = folder / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def emitted_class(spec, folder: Path):
    """The model class of the file emitted for `spec`, and the module that holds it."""
    module = import_source(emit(spec), folder)
    classes = [v for k, v in vars(module).items() if isinstance(v, type) and k != "Output"]
    model = next(c for c in classes if issubclass(c, torch.nn.Module) and hasattr(c, "encode"))
    return model, module


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a − b| / max(|b|, tiny), as a float."""
    scale = b.abs().max().clamp_min(1e-30)
    return float(((a - b).abs().max() / scale).detach())
