"""Weights & Biases: an online run for a user who has logged in, else an offline one.

The run's files go to RUN/wandb/ (an offline run: `wandb sync RUN/wandb/offline-run-*` uploads
it later). The mode is, in order: the `mode` option, WANDB_MODE, else "online" when W&B
credentials are there (WANDB_API_KEY, WANDB_IDENTITY_TOKEN_FILE, or a netrc entry for the W&B
server: WANDB_BASE_URL's, else wandb's default or api.wandb.ai), else "offline". Metrics at
step = the epoch; the spec and config as the run's config (and spec.toml among its files); the
grids as images. A resumed run keeps its W&B run id.
"""

from __future__ import annotations

import json
import netrc
import os
from pathlib import Path
from urllib.parse import urlparse

from gaespec.atomic import atomic_write_text
from gaespec.errors import TrainingError
from gaespec.tracking.base import TrackedRun, Tracker
from gaespec.tracking.registry import tracker

FOLDER = "wandb"  # wandb's own name for the folder it writes in its `dir`
RECORD = "gaespec-run.json"  # which W&B run this run folder's run is
PROJECT = "gaespec"
CLOUD = "https://api.wandb.ai"


def _hosts() -> set[str]:
    """The W&B servers a login may be for: WANDB_BASE_URL's, else wandb's default and the
    W&B cloud's."""
    given = os.environ.get("WANDB_BASE_URL")
    if given:
        return {urlparse(given).hostname}
    import wandb

    return {urlparse(wandb.Settings().base_url).hostname, urlparse(CLOUD).hostname}


def logged_in() -> bool:
    """Whether W&B credentials are there, where wandb looks for them: WANDB_API_KEY,
    WANDB_IDENTITY_TOKEN_FILE, or a netrc entry (NETRC, else ~/.netrc) for the W&B server."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    path = Path(os.environ.get("NETRC") or "~/.netrc").expanduser()
    try:
        entries = netrc.netrc(path)
    except (OSError, netrc.NetrcParseError):
        return False
    return any(entries.authenticators(host) is not None for host in _hosts())


def wandb_mode(mode: str | None = None) -> str:
    """The mode a run starts in: `mode`, else WANDB_MODE, else online when logged in."""
    return mode or os.environ.get("WANDB_MODE") or ("online" if logged_in() else "offline")


@tracker("wandb")
class WandbTracker(Tracker):
    """Logs a W&B run through the wandb package; a new run each time, never a user's own.

    Attributes:
        project: the W&B project (default: WANDB_PROJECT, else "gaespec").
        entity: the W&B team or user (default: wandb's own default).
        mode: "online", "offline" or "disabled" (default: see `wandb_mode`).
    """

    extra = "wandb"
    packages = ("wandb",)

    def __init__(
        self, project: str | None = None, entity: str | None = None, mode: str | None = None
    ):
        self.project = project or os.environ.get("WANDB_PROJECT") or PROJECT
        self.entity = entity
        self.mode = mode
        self.run = None

    def start(self, run: TrackedRun) -> None:
        import wandb

        record = run.path / FOLDER / RECORD
        saved = None
        if run.epoch and record.exists():
            saved = json.loads(record.read_text(encoding="utf-8")).get("id")
        mode = wandb_mode(self.mode)
        try:
            self.run = self._init(run, saved, mode)
        except wandb.errors.Error as error:  # a server out of reach, a bad key, a bad project
            raise TrainingError(
                f"W&B cannot start the {mode} run: {str(error).splitlines()[0]}",
                key="--track",
                fix="WANDB_MODE=offline records the run here (wandb sync uploads it later)",
            ) from None
        atomic_write_text(record, json.dumps({"id": self.run.id}, indent=2))
        if self.run.dir:  # the files W&B keeps with the run (and uploads)
            atomic_write_text(Path(self.run.dir) / "spec.toml", run.spec_toml)

    def _init(self, run: TrackedRun, saved: str | None, mode: str):
        import wandb

        return wandb.init(
            project=self.project,
            entity=self.entity,
            dir=str(run.path),
            id=saved,
            resume="allow" if saved and mode == "online" else None,
            name=run.name,
            tags=[run.spec["model"]["name"]],
            config={"spec": run.spec, "training": run.config},
            allow_val_change=True,  # a resumed run may train for more epochs
            mode=mode,
            reinit="create_new",
        )

    def log(self, epoch: int, values: dict[str, float], images: dict[str, Path]) -> None:
        import wandb

        grids = {
            f"images/{name}": wandb.Image(str(path), caption=f"epoch {epoch}")
            for name, path in images.items()
        }
        self.run.log({**values, **grids}, step=epoch)

    def close(self, finished: bool) -> None:
        if self.run is None:
            return
        self.run.finish(exit_code=0 if finished else 1)
        self.run = None
