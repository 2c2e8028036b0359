"""Experiment tracking as trainer callbacks: TensorBoard, MLflow and Weights & Biases.

`gaespec.train(spec, track=["tensorboard", "mlflow"])` or `gaespec train SPEC --track wandb`
logs every term and objective (train and validation), each objective's learning rate, the
resolved spec and the run's config, and sample and reconstruction grids, at every epoch. Each
tracker is an optional extra (`pip install 'gaespec[mlflow]'`); options go through a tracker made
by hand: `track=[MLflowTracker(tracking_uri="http://localhost:5000")]`.
"""

from __future__ import annotations

from gaespec.tracking.base import TrackedRun, Tracker, scalars
from gaespec.tracking.callback import Tracking, attach
from gaespec.tracking.mlflow import MLflowTracker
from gaespec.tracking.registry import TRACKERS, known_trackers, resolve_trackers, tracker
from gaespec.tracking.tensorboard import TensorBoardTracker
from gaespec.tracking.wandb import WandbTracker

__all__ = [
    "MLflowTracker",
    "TRACKERS",
    "TensorBoardTracker",
    "TrackedRun",
    "Tracker",
    "Tracking",
    "WandbTracker",
    "attach",
    "known_trackers",
    "resolve_trackers",
    "scalars",
    "tracker",
]
