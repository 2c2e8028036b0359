"""Pictures of runs: each run's training curves (curves.py) and several runs' curves together
(compare.py), drawn with matplotlib's Agg backend, imported only when a picture is drawn."""

from gaespec.plots.compare import compare_runs
from gaespec.plots.curves import read_curves, write_curves
from gaespec.plots.figure import Panel, Plot

__all__ = ["Panel", "Plot", "compare_runs", "read_curves", "write_curves"]
