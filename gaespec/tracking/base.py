"""What every experiment tracker shares: the run it is told of, an epoch's scalars, the base class.

Every tracker logs at step = the epoch (1, 2, ...), the unit of metrics.jsonl's records, so that
one run's curves line up in TensorBoard, MLflow and W&B; the optimiser step is logged beside the
metrics as `time/step`.
"""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from gaespec.errors import TrainingError


@dataclass(frozen=True)
class TrackedRun:
    """The training run a tracker records, as it starts (or resumes).

    Attributes:
        path: the run folder. name: the run's name (the folder's name).
        spec_toml: the resolved spec, as the text of the run's spec.toml; spec: the same, a dict.
        config: the run's training.json (data, epochs, batch size, seed, device, sizes).
        objectives: the names of the spec's objectives.
        epoch: epochs already finished (more than 0 when a run resumes).
    """

    path: Path
    name: str
    spec_toml: str
    spec: dict
    config: dict
    objectives: tuple[str, ...]
    epoch: int = 0


def scalars(record: Mapping) -> dict[str, float]:
    """An epoch record's numbers under their tracker names: `train/<term>`, `validation/<term>`
    (every term and objective), `lr/<objective>`, `time/seconds` and `time/step`."""
    values = {
        f"{split}/{k}": float(v)
        for split in ("train", "validation")
        for k, v in record[split].items()
    }
    values.update({f"lr/{k}": float(v) for k, v in record["lr"].items()})
    values["time/seconds"] = float(record["seconds"])
    values["time/step"] = float(record["step"])
    return values


def flatten(tree: Mapping, prefix: str = "") -> dict[str, str | int | float | bool]:
    """Nested tables as one level of dotted keys (`spec.latent.dim`); lists as JSON text, since
    trackers take only scalars as parameters."""
    flat: dict[str, str | int | float | bool] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, (str, int, float, bool)):
            flat[name] = value
        else:
            flat[name] = json.dumps(value)
    return flat


def parameters(run: TrackedRun) -> dict[str, str | int | float | bool]:
    """The spec's and the training config's values as flat parameters: `spec.…`, `training.…`."""
    return flatten({"spec": run.spec, "training": run.config})


class Tracker(ABC):
    """One experiment tracker: told of a run once, of every epoch, and of the end.

    A subclass names its `extra` (pip install 'gaespec[extra]') and the `packages` it imports;
    it imports them only in its methods, so that gaespec never needs them to load.
    """

    name: ClassVar[str]
    extra: ClassVar[str]
    packages: ClassVar[tuple[str, ...]]

    def required(self) -> tuple[str, ...]:
        """The packages this tracker, with its options, imports."""
        return self.packages

    def require(self) -> None:
        """Import the tracker's packages now; a missing one raises a one-line TrainingError that
        names the extra to install."""
        for package in self.required():
            try:
                importlib.import_module(package)
            except ImportError:
                raise TrainingError(
                    f"the {self.name} tracker needs the '{package}' package, which is not "
                    "installed",
                    key="--track",
                    fix=f"pip install 'gaespec[{self.extra}]'",
                ) from None

    @abstractmethod
    def start(self, run: TrackedRun) -> None:
        """Open (or, for a resumed run, reopen) the tracker's record of `run`."""

    @abstractmethod
    def log(self, epoch: int, values: dict[str, float], images: dict[str, Path]) -> None:
        """Log an epoch's scalars (see `scalars`) and its image grids (name → PNG file; empty
        when the data are not images) at step `epoch`."""

    @abstractmethod
    def close(self, finished: bool) -> None:
        """Flush and close; `finished` is False when training stopped early (an error, Ctrl-C)."""
