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


def model_class(module):
    """The model class of an emitted module: the nn.Module that can encode."""
    classes = [v for k, v in vars(module).items() if isinstance(v, type) and k != "Output"]
    return next(c for c in classes if issubclass(c, torch.nn.Module) and hasattr(c, "encode"))


def spec_key(spec) -> tuple[str | None, str]:
    """A spec's resolved identity: the file it came from (the header names it) and every value
    after `extends` and overrides."""
    source = None if spec.source is None else str(Path(spec.source).resolve())
    return source, spec.model_dump_json()


class EmittedFiles:
    """Each spec's file emitted once and imported once, into one folder, for a whole session:
    tests of one spec share its file instead of emitting and importing it again."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._sources: dict[tuple[str | None, str], str] = {}
        self._modules: dict[tuple[str | None, str], object] = {}

    def source(self, spec) -> str:
        """The text emitted for `spec`."""
        key = spec_key(spec)
        if key not in self._sources:
            self._sources[key] = emit(spec)
        return self._sources[key]

    def model_class(self, spec):
        """The model class of the file emitted for `spec`, and the module that holds it."""
        key = spec_key(spec)
        if key not in self._modules:
            self._modules[key] = import_source(self.source(spec), self.folder)
        module = self._modules[key]
        return model_class(module), module


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a − b| / max(|b|, tiny), as a float."""
    scale = b.abs().max().clamp_min(1e-30)
    return float(((a - b).abs().max() / scale).detach())
