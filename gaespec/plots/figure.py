"""A grid of panels on matplotlib's Agg canvas (no display, no pyplot state), written as a PNG
atomically; what was drawn is read back from the axes, so a caller can check the picture."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from gaespec.atomic import atomic_write

COLUMNS = 3  # panels per row
PANEL_SIZE = (4.6, 3.2)  # inches of one panel
DPI = 100


@dataclass(frozen=True)
class Panel:
    """One panel as drawn: its title and its lines, label → (x values, y values)."""

    title: str
    lines: dict[str, tuple[tuple[float, ...], tuple[float, ...]]]


@dataclass(frozen=True)
class Plot:
    """A written figure: the PNG's path and its panels, read back from the figure's axes."""

    path: Path
    panels: tuple[Panel, ...]

    @property
    def titles(self) -> tuple[str, ...]:
        """The panels' titles, in reading order."""
        return tuple(panel.title for panel in self.panels)


def panel_grid(count: int, title: str):
    """A figure of `count` panels in rows of COLUMNS, titled; returns (figure, axes in order)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    columns = min(count, COLUMNS)
    rows = math.ceil(count / columns)
    figure = Figure(
        figsize=(PANEL_SIZE[0] * columns + 1.6, PANEL_SIZE[1] * rows + 0.6),
        layout="constrained",
    )
    FigureCanvasAgg(figure)
    grid = figure.subplots(rows, columns, squeeze=False)
    axes = [axis for row in grid for axis in row]
    for axis in axes[count:]:
        axis.remove()
    for axis in axes[:count]:
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(True, alpha=0.3)
    figure.suptitle(title)
    return figure, axes[:count]


def _panel(axis) -> Panel:
    lines = {
        line.get_label(): (
            tuple(float(v) for v in line.get_xdata()),
            tuple(float(v) for v in line.get_ydata()),
        )
        for line in axis.get_lines()
    }
    return Panel(axis.get_title(), lines)


def save_png(figure, axes, path: str | os.PathLike) -> Plot:
    """Write the figure as a PNG to `path` (atomically) and say what its panels show."""
    written = atomic_write(path, lambda tmp: figure.savefig(tmp, format="png", dpi=DPI))
    return Plot(written, tuple(_panel(axis) for axis in axes))
