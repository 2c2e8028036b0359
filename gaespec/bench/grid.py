"""The grid of configurations a benchmark trains per model: a TOML file of spec overrides.

One table per model; each key is a spec override (a dotted key, quoted: `"params.beta"`), its
value a list of values to try or one value to fix; a model's configurations are the Cartesian
product of its lists. `source` says where the values come from. A model the file leaves out has
one configuration: its spec as it is.

    [beta_vae]
    source = "β: Higgins et al. 2017 (4), the study's MNIST configuration (2)"
    "params.beta" = [2.0, 4.0]
"""

from __future__ import annotations

import itertools
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gaespec.errors import BenchError, GaespecError


def _grid_file() -> Path:
    """specs/bench/grid.toml of the source tree; in a non-editable install, the copy in share/."""
    checkout = Path(__file__).resolve().parents[2] / "specs" / "bench" / "grid.toml"
    installed = Path(sys.prefix) / "share" / "gaespec" / "specs" / "bench" / "grid.toml"
    return checkout if checkout.is_file() or not installed.is_file() else installed


DEFAULT_GRID = _grid_file()


@dataclass(frozen=True)
class Configuration:
    """One point of a model's grid: its overrides and a name for its run folder.

    Attributes:
        overrides: spec override → value, in the grid file's order.
        name: `key=value` pairs joined by `,` (the last part of each key), or "default".
    """

    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        if not self.overrides:
            return "default"
        return ",".join(
            f"{key.rsplit('.', 1)[-1]}={value}" for key, value in self.overrides.items()
        )


@dataclass(frozen=True)
class Grid:
    """Configurations per model, and where each model's values come from.

    Attributes:
        file: the grid file (None for a grid made in Python).
        points: model → its configurations; `configurations(model)` covers the models left out.
        sources: model → the `source` line of its table.
    """

    file: Path | None
    points: dict[str, list[Configuration]]
    sources: dict[str, str]

    def configurations(self, model: str) -> list[Configuration]:
        """The model's configurations: one with no overrides when the grid leaves it out."""
        return self.points.get(model, [Configuration()])

    def only_first(self) -> Grid:
        """The same grid with one configuration per model: the first of each product."""
        return Grid(self.file, {m: c[:1] for m, c in self.points.items()}, self.sources)


def _configurations(table: Mapping[str, Any], file: str, model: str) -> list[Configuration]:
    keys, values = [], []
    for key, value in table.items():
        if key == "source":
            continue
        if isinstance(value, Mapping):
            raise BenchError(
                f"'{key}' is a table; grid keys are spec overrides with their values",
                file=file,
                key=f"{model}.{key}",
                fix=f'quote the dotted key, e.g. "{key}.NAME" = [1, 2] under [{model}]',
            )
        choices = value if isinstance(value, list) else [value]
        if not choices:
            raise BenchError(
                "an empty list leaves the model no configuration",
                file=file,
                key=f'{model}."{key}"',
                fix="give at least one value, or remove the key",
            )
        keys.append(key)
        values.append(choices)
    return [
        Configuration(dict(zip(keys, point, strict=True))) for point in itertools.product(*values)
    ]


def parse_grid(raw: Mapping[str, Any], *, file: str | None = None) -> Grid:
    """A grid from the parsed TOML `raw` (model → table), with errors located in `file`."""
    from gaespec.spec.load import builtin_specs

    points, sources = {}, {}
    for model, table in raw.items():
        if not isinstance(table, Mapping):
            raise BenchError(
                f"'{model}' must be a table of overrides, got {type(table).__name__}",
                file=file,
                key=model,
                fix=f'write [{model}] and under it "params.NAME" = [values]',
            )
        if model not in builtin_specs():
            raise BenchError(
                f"no built-in spec named '{model}'",
                file=file,
                key=model,
                name=model,
                choices=builtin_specs(),
            )
        source = table.get("source", "")
        if not isinstance(source, str):
            raise BenchError("source must be a string", file=file, key=f"{model}.source")
        points[model] = _configurations(table, file, model)
        sources[model] = source
    return Grid(None if file is None else Path(file), points, sources)


def load_grid(path: str | Path | None = None) -> Grid:
    """The grid file at `path` (default: the built-in specs/bench/grid.toml)."""
    path = Path(path) if path is not None else DEFAULT_GRID
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchError(
            f"no grid file '{path}'", file=str(path), fix="give an existing TOML file"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise BenchError(f"not valid TOML: {error}", file=str(path)) from None
    return parse_grid(raw, file=str(path))


def check_against_spec(grid: Grid, model: str) -> None:
    """Load the model's spec with each of its configurations: a bad override names the grid."""
    from gaespec.spec.load import load_spec

    for configuration in grid.configurations(model):
        try:
            load_spec(model, configuration.overrides)
        except GaespecError as error:
            keys = ", ".join(f'"{key}"' for key in configuration.overrides)
            raise BenchError(
                f"configuration {configuration.name} does not apply to the {model} spec: {error}",
                file=None if grid.file is None else str(grid.file),
                key=f"{model} ({keys})",
                fix="use the spec's own keys (gaespec explain " + model + ")",
            ) from None
