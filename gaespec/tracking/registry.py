"""The experiment trackers by name (tensorboard, mlflow, wandb), and the check of a `track` list."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gaespec.errors import TrainingError
from gaespec.registry import Registry
from gaespec.tracking.base import Tracker

TRACKERS: Registry[type[Tracker]] = Registry("tracker", TrainingError)


def tracker(name: str) -> Callable[[type[Tracker]], type[Tracker]]:
    """Class decorator: register a Tracker subclass as `name`; a second `name` raises ValueError."""

    def add(cls: type[Tracker]) -> type[Tracker]:
        TRACKERS.register(name)(cls)
        cls.name = name
        return cls

    return add


def load_builtin() -> None:
    """Import every built-in tracker module, which registers them (none imports its tool)."""
    from gaespec.tracking import mlflow, tensorboard, wandb  # noqa: F401


def known_trackers() -> list[str]:
    """Every registered tracker's name, sorted."""
    load_builtin()
    return list(TRACKERS)


def resolve_trackers(track: str | Sequence[str | Tracker]) -> list[Tracker]:
    """Trackers for `track`: names (made with their defaults) or trackers made with options.

    An unknown name raises, listing the known ones; a tracker whose package is missing raises
    one line naming the extra to install. Nothing is started.
    """
    load_builtin()
    if isinstance(track, str):  # one name, or the CLI's comma-separated list
        track = track.split(",")
    trackers: list[Tracker] = []
    seen: set[str] = set()
    for item in track:
        if isinstance(item, Tracker):
            trackers.append(item)
            continue
        if not isinstance(item, str):
            raise TrainingError(
                f"a tracker is a name or a Tracker, not {type(item).__name__}",
                key="--track",
                fix=f"use one of: {', '.join(TRACKERS)}",
            )
        name = item.strip()
        if not name or name in seen:  # `--track tensorboard,` means one tracker
            continue
        seen.add(name)
        trackers.append(TRACKERS.get(name, key="--track")())
    for t in trackers:
        t.require()
    return trackers
