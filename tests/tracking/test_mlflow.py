"""MLflow: the run read back through MlflowClient from the store the tracker wrote."""

from __future__ import annotations

import json
import shutil
import tomllib

import numpy as np
import pytest

from gaespec.runs import SPEC, TRAINING
from gaespec.tracking import MLflowTracker

pytest.importorskip("mlflow")
pytest.importorskip("sqlalchemy")

from mlflow.tracking import MlflowClient  # noqa: E402


@pytest.fixture(autouse=True)
def no_outside_store(monkeypatch):
    """The user's own MLflow settings do not reach these tests."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory):
    """An MLflow SQLite store with its tables made (MLflow's migrations take seconds), to copy
    where a test needs a store that is not the point of the test."""
    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def run_store(tmp_path, empty_store):
    """The default store's place in the run folder tmp_path/run, its tables already made."""
    path = tmp_path / "run" / "mlflow" / "mlflow.db"
    path.parent.mkdir(parents=True)
    shutil.copy(empty_store, path)
    return path


def local_store(run_folder) -> MlflowClient:
    """A client of the SQLite store the tracker keeps in the run folder by default."""
    return MlflowClient(tracking_uri=f"sqlite:///{run_folder / 'mlflow' / 'mlflow.db'}")


def the_run(client: MlflowClient, experiment: str = "gaespec"):
    (run,) = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    return run


def history(client: MlflowClient, run_id: str, name: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, name))


def png(client: MlflowClient, run_id: str, name: str, step: int, folder) -> np.ndarray:
    """The PNG that log_image stored for image `name` at `step`."""
    from PIL import Image

    (path,) = [
        a.path
        for a in client.list_artifacts(run_id, "images")
        if a.path.startswith(f"images/{name}+step+{step}+") and a.path.endswith(".png")
    ]
    return np.asarray(Image.open(client.download_artifacts(run_id, path, str(folder))))


def test_every_term_the_config_and_the_grids_read_back(
    train_tracked, scalars_of, grids_match, tmp_path, run_store
):
    run = train_tracked(["mlflow"])
    client = local_store(run.path)
    logged = the_run(client)
    run_id = logged.info.run_id
    assert (logged.info.run_name, logged.info.status) == ("run", "FINISHED")

    expected = scalars_of(run)
    assert {"train/tc", "validation/critic_ce", "lr/critic", "lr/autoencoder"} <= set(expected)
    assert set(logged.data.metrics) == set(expected)
    for name, by_epoch in expected.items():
        assert history(client, run_id, name) == list(by_epoch.items())

    config = json.loads((run.path / TRAINING).read_text())
    spec_text = (run.path / SPEC).read_text()
    params = logged.data.params
    for key in ("data", "epochs", "batch_size", "seed", "device", "select"):
        assert params[f"training.{key}"] == str(config[key])
    for split, size in config["sizes"].items():
        assert params[f"training.sizes.{split}"] == str(size)
    spec = tomllib.loads(spec_text)
    assert params["spec.params.gamma"] == str(spec["params"]["gamma"])
    assert params["spec.model.name"] == "factor_vae"
    assert params["spec.encoder.hidden"] == "[64]"

    artifacts = tmp_path / "artifacts"
    spec_path = client.download_artifacts(run_id, "spec.toml", str(artifacts))
    assert open(spec_path, encoding="utf-8").read() == spec_text
    config_path = client.download_artifacts(run_id, "training.json", str(artifacts))
    assert json.loads(open(config_path, encoding="utf-8").read()) == config

    grids_match(
        run,
        png(client, run_id, "samples", 2, artifacts),
        png(client, run_id, "reconstructions", 2, artifacts),
    )
    assert png(client, run_id, "samples", 1, artifacts).shape == (82, 82)


def test_a_stopped_run_is_marked_failed_then_resumes_as_the_same_mlflow_run(
    train_tracked, scalars_of, stop_in_epoch_3, tmp_path, run_store
):
    stop_in_epoch_3(["mlflow"])
    client = local_store(tmp_path / "run")
    stopped = the_run(client)
    assert stopped.info.status == "FAILED"
    assert [step for step, _ in history(client, stopped.info.run_id, "train/recon")] == [1, 2]

    run = train_tracked(["mlflow"], epochs=3, resume=True)
    resumed = the_run(client)  # still one MLflow run
    assert (resumed.info.run_id, resumed.info.status) == (stopped.info.run_id, "FINISHED")
    for name, by_epoch in scalars_of(run).items():
        assert history(client, resumed.info.run_id, name) == list(by_epoch.items())


def test_any_tracking_uri(train_tracked, scalars_of, tmp_path, monkeypatch, empty_store):
    shutil.copy(empty_store, tmp_path / "shared.db")
    store = f"sqlite:///{tmp_path / 'shared.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "digits")
    monkeypatch.chdir(tmp_path)  # where MLflow keeps the artifacts of a store given without them
    run = train_tracked(["mlflow"], epochs=1)
    assert not (run.path / "mlflow" / "mlflow.db").exists()
    client = MlflowClient(tracking_uri=store)
    logged = the_run(client, "digits")
    expected = scalars_of(run)["validation/autoencoder"]
    assert history(client, logged.info.run_id, "validation/autoencoder") == list(expected.items())
    assert MLflowTracker(tracking_uri="http://localhost:5000").tracking_uri.startswith("http")
