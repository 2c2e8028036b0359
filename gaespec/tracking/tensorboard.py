"""TensorBoard: event files in RUN/tensorboard/ (`tensorboard --logdir RUN/tensorboard`).

Scalars at step = the epoch; the spec and the training config as text and as hparams (so the
HParams dashboard lists them beside each objective's validation total); the grids as images.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from gaespec.tracking.base import TrackedRun, Tracker, parameters
from gaespec.tracking.images import read_png
from gaespec.tracking.registry import tracker

FOLDER = "tensorboard"


def _preformatted(text: str) -> str:
    """Text shown as is by TensorBoard's markdown: every line indented by four spaces."""
    return textwrap.indent(text, "    ", lambda line: True)


@tracker("tensorboard")
class TensorBoardTracker(Tracker):
    """Writes TensorBoard event files through torch.utils.tensorboard.

    Attributes:
        logdir: the event files' folder (default RUN/tensorboard).
    """

    extra = "tensorboard"
    packages = ("tensorboard", "torch.utils.tensorboard")

    def __init__(self, logdir: str | Path | None = None):
        self.logdir = None if logdir is None else Path(logdir)
        self.writer = None
        self._end = None

    def start(self, run: TrackedRun) -> None:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        logdir = self.logdir or run.path / FOLDER
        # a resumed run drops what an earlier life logged after its last saved epoch
        self.writer = SummaryWriter(str(logdir), purge_step=run.epoch + 1 if run.epoch else None)
        self.writer.add_text("spec", _preformatted(run.spec_toml), global_step=run.epoch)
        self.writer.add_text(
            "config", _preformatted(json.dumps(run.config, indent=2)), global_step=run.epoch
        )
        # the dashboard's metrics, by name only: their values are the scalars of those names
        metrics = {f"validation/{name}": 0.0 for name in run.objectives}
        experiment, start, self._end = hparams(parameters(run), metrics)
        self.writer.file_writer.add_summary(experiment)
        self.writer.file_writer.add_summary(start)

    def log(self, epoch: int, values: dict[str, float], images: dict[str, Path]) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, global_step=epoch)
        for name, path in images.items():
            pixels = read_png(path)
            form = "HW" if pixels.ndim == 2 else "HWC"
            self.writer.add_image(f"images/{name}", pixels, global_step=epoch, dataformats=form)
        self.writer.flush()

    def close(self, finished: bool) -> None:
        if self.writer is None:
            return
        if finished:  # the hparams session's end, marked a success
            self.writer.file_writer.add_summary(self._end)
        self.writer.close()
        self.writer = None
