"""The runs a benchmark needs: one resumable run folder per (model, configuration, latent dim).

Each run is a plain gaespec run folder (`gaespec train`'s), so anything that can call `train` on
a folder can make it: the bench itself, one process at a time, or an engine that spreads them
over machines (`executors.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gaespec.bench.grid import Configuration, Grid


@dataclass(frozen=True)
class BenchRun:
    """One run of the bench.

    Attributes:
        model: the built-in spec's name. configuration: its grid point. latent_dim: the code's size.
        folder: out/runs/<model>/<configuration>/d<latent_dim>.
        fixed: overrides every run of the bench shares (the input shape, the nets).
    """

    model: str
    configuration: Configuration
    latent_dim: int
    folder: Path
    fixed: tuple[tuple[str, Any], ...] = ()

    @property
    def overrides(self) -> dict[str, Any]:
        """Every override of the run's spec: the shared ones, the latent dim, the grid point's."""
        return {**dict(self.fixed), "latent.dim": self.latent_dim, **self.configuration.overrides}

    @property
    def label(self) -> str:
        return f"{self.model} [{self.configuration.name}] d={self.latent_dim}"


def plan(
    models: list[str],
    grid: Grid,
    latent_dims: list[int],
    out: Path,
    fixed: dict[str, Any] | None = None,
) -> list[BenchRun]:
    """Every run, model by model, then configuration, then latent dim."""
    shared = tuple((fixed or {}).items())
    return [
        BenchRun(model, point, dim, out / "runs" / model / point.name / f"d{dim}", shared)
        for model in models
        for point in grid.configurations(model)
        for dim in latent_dims
    ]
