"""MLflow: a local SQLite store in RUN/mlflow/ by default, or any tracking URI.

The store is, in order: the `tracking_uri` option, the MLFLOW_TRACKING_URI variable, else
`sqlite:///RUN/mlflow/mlflow.db` with artifacts in RUN/mlflow/artifacts (MLflow 3 prefers a
database to its ./mlruns folder store; `mlflow ui --backend-store-uri sqlite:///RUN/mlflow/mlflow.db`
shows it). Metrics at step = the epoch; the spec and config as params and as the artifacts
spec.toml and training.json; the grids as images per step. A resumed run continues its MLflow run.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from gaespec.atomic import atomic_write_text
from gaespec.errors import TrainingError
from gaespec.tracking.base import TrackedRun, Tracker, parameters
from gaespec.tracking.images import read_png
from gaespec.tracking.registry import tracker

FOLDER = "mlflow"  # in the run folder: the default store, and which MLflow run this run is
RECORD = "run.json"
EXPERIMENT = "gaespec"
DATABASES = ("sqlite", "postgresql", "mysql", "mssql")  # stores MLflow keeps through SQLAlchemy
PARAMS_PER_CALL = 100  # MLflow's limit for one log_batch


def _milliseconds() -> int:
    return int(time.time() * 1000)


@tracker("mlflow")
class MLflowTracker(Tracker):
    """Logs to an MLflow tracking store through MlflowClient (no global MLflow state is touched).

    Attributes:
        tracking_uri: the store (default: MLFLOW_TRACKING_URI, else SQLite in RUN/mlflow).
        experiment: the experiment's name (default: MLFLOW_EXPERIMENT_NAME, else "gaespec").
    """

    extra = "mlflow"
    packages = ("mlflow",)

    def __init__(self, tracking_uri: str | None = None, experiment: str | None = None):
        self.tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None
        self.experiment = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT
        self.client = None
        self.run_id: str | None = None

    def required(self) -> tuple[str, ...]:
        scheme = (self.tracking_uri or "sqlite:").split(":", 1)[0].split("+", 1)[0]
        return self.packages + (("sqlalchemy", "alembic") if scheme in DATABASES else ())

    def start(self, run: TrackedRun) -> None:
        from mlflow.exceptions import MlflowException

        folder = run.path / FOLDER
        local = self.tracking_uri is None
        if local:
            folder.mkdir(parents=True, exist_ok=True)
        uri = self.tracking_uri or f"sqlite:///{(folder / 'mlflow.db').resolve()}"
        artifacts = (folder / "artifacts").resolve().as_uri() if local else None
        try:
            self._open(run, uri, artifacts)
        except MlflowException as error:
            raise TrainingError(
                f"MLflow cannot record the run at '{uri}': {error.message}",
                key="--track",
                fix="check MLFLOW_TRACKING_URI (unset, gaespec keeps a SQLite store in the run)",
            ) from None
        # the store by its URI, or None for the run folder's own (which moves with the folder)
        record = {"tracking_uri": self.tracking_uri, "run_id": self.run_id}
        atomic_write_text(folder / RECORD, json.dumps(record, indent=2))

    def _continued(self, run: TrackedRun) -> str | None:
        """The MLflow run of this run's earlier life, when it resumes on the same store."""
        from mlflow.exceptions import MlflowException

        record = run.path / FOLDER / RECORD
        if not run.epoch or not record.exists():
            return None
        saved = json.loads(record.read_text(encoding="utf-8"))
        if saved.get("tracking_uri") != self.tracking_uri:
            return None
        try:
            return self.client.get_run(saved["run_id"]).info.run_id
        except MlflowException:  # deleted since: start a new one
            return None

    def _open(self, run: TrackedRun, uri: str, artifacts: str | None) -> None:
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=uri)
        self.run_id = self._continued(run)
        if self.run_id is not None:
            self.client.update_run(self.run_id, status="RUNNING")
            logged = self.client.get_run(self.run_id).data.params
        else:
            found = self.client.get_experiment_by_name(self.experiment)
            experiment = (
                found.experiment_id
                if found is not None
                else self.client.create_experiment(self.experiment, artifact_location=artifacts)
            )
            tags = {
                "gaespec.folder": str(run.path.resolve()),
                "gaespec.model": run.spec["model"]["name"],
            }
            self.run_id = self.client.create_run(
                experiment, run_name=run.name, tags=tags
            ).info.run_id
            logged = {}
        # a param is written once; a resumed run's changed values (its epochs) are in the artifacts
        params = [Param(k, str(v)) for k, v in parameters(run).items() if k not in logged]
        for i in range(0, len(params), PARAMS_PER_CALL):
            self.client.log_batch(self.run_id, params=params[i : i + PARAMS_PER_CALL])
        self.client.log_text(self.run_id, run.spec_toml, "spec.toml")
        self.client.log_dict(self.run_id, run.config, "training.json")

    def log(self, epoch: int, values: dict[str, float], images: dict[str, Path]) -> None:
        from mlflow.entities import Metric

        now = _milliseconds()
        metrics = [Metric(key, value, now, epoch) for key, value in values.items()]
        self.client.log_batch(self.run_id, metrics=metrics)
        for name, path in images.items():
            self.client.log_image(self.run_id, read_png(path), key=name, step=epoch, timestamp=now)

    def close(self, finished: bool) -> None:
        if self.run_id is None:
            return
        self.client.set_terminated(self.run_id, status="FINISHED" if finished else "FAILED")
        self.run_id = None
