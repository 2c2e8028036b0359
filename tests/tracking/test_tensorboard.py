"""TensorBoard: read back with tensorboard's own EventAccumulator, the reader its server uses."""

from __future__ import annotations

import io
import json
import textwrap
import tomllib

import numpy as np
import pytest
from typer.testing import CliRunner

from gaespec.cli import app
from gaespec.runs import SPEC, TRAINING

pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    IMAGES,
    SCALARS,
    TENSORS,
    EventAccumulator,
)
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402


def events(folder) -> EventAccumulator:
    accumulator = EventAccumulator(str(folder), size_guidance={SCALARS: 0, IMAGES: 0, TENSORS: 0})
    accumulator.Reload()
    return accumulator


def png(event) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(event.encoded_image_string)))


def text(accumulator, tag: str) -> str:
    (event,) = accumulator.Tensors(f"{tag}/text_summary")
    (value,) = tensor_util.make_ndarray(event.tensor_proto).reshape(-1)
    return textwrap.dedent(value.decode())


def test_every_term_the_config_and_the_grids_read_back(train_tracked, scalars_of, grids_match):
    run = train_tracked(["tensorboard"])
    logged = events(run.path / "tensorboard")
    expected = scalars_of(run)
    assert {"train/tc", "validation/critic_ce", "lr/critic", "lr/autoencoder"} <= set(expected)
    assert set(logged.Tags()["scalars"]) == set(expected)
    for name, by_epoch in expected.items():
        got = logged.Scalars(name)
        assert [e.step for e in got] == [1, 2]
        assert [e.value for e in got] == [float(np.float32(v)) for v in by_epoch.values()]

    config = json.loads((run.path / TRAINING).read_text())
    assert json.loads(text(logged, "config")) == config
    spec = tomllib.loads((run.path / SPEC).read_text())
    assert tomllib.loads(text(logged, "spec")) == spec

    hparams = {
        tag: plugin_data_pb2.HParamsPluginData.FromString(content)
        for tag, content in logged.PluginTagToContent("hparams").items()
    }
    started = hparams["_hparams_/session_start_info"].session_start_info.hparams
    assert started["training.batch_size"].number_value == config["batch_size"] == 32
    assert started["training.data"].string_value == "sklearn_digits"
    assert started["spec.model.name"].string_value == "factor_vae"
    assert started["spec.params.gamma"].number_value == spec["params"]["gamma"]
    metrics = hparams["_hparams_/experiment"].experiment.metric_infos
    assert [m.name.tag for m in metrics] == ["validation/autoencoder", "validation/critic"]
    assert "_hparams_/session_end_info" in hparams  # the run finished

    samples, pairs = logged.Images("images/samples"), logged.Images("images/reconstructions")
    assert [e.step for e in samples] == [e.step for e in pairs] == [1, 2]
    grids_match(run, png(samples[-1]), png(pairs[-1]))


def _stop_in_epoch_3(monkeypatch) -> None:
    """Ctrl-C in epoch 3, once its training is done: epochs 1 and 2 are saved, and logged."""
    from gaespec.training.trainer import Trainer

    evaluate = Trainer.evaluate

    def evaluate_until_epoch_3(self, split):
        if self.epoch == 2:
            raise KeyboardInterrupt
        return evaluate(self, split)

    monkeypatch.setattr(Trainer, "evaluate", evaluate_until_epoch_3)


def test_a_stopped_run_closes_and_resumes_its_curves(train_tracked, scalars_of, tmp_path):
    with pytest.MonkeyPatch.context() as patch:
        _stop_in_epoch_3(patch)
        with pytest.raises(KeyboardInterrupt):
            train_tracked(["tensorboard"], epochs=3)
    folder = tmp_path / "run" / "tensorboard"
    stopped = events(folder)
    assert [e.step for e in stopped.Scalars("validation/autoencoder")] == [1, 2]
    assert "_hparams_/session_end_info" not in stopped.PluginTagToContent("hparams")

    run = train_tracked(["tensorboard"], epochs=3, resume=True)
    resumed = events(folder)
    for name, by_epoch in scalars_of(run).items():
        got = resumed.Scalars(name)
        assert [e.step for e in got] == [1, 2, 3]
        assert [e.value for e in got] == [float(np.float32(v)) for v in by_epoch.values()]


def test_the_cli_tracks_with_track(tmp_path):
    from tiny import TINY

    overrides = [a for o in TINY for a in ("--set", o)]
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        app,
        ["train", "vae", *overrides, "--data", "sklearn_digits", "--epochs", "1", "--out", str(out)]
        + ["--track", "tensorboard", "--quiet"],
    )
    assert result.exit_code == 0, result.output
    logged = events(out / "tensorboard")
    (loss,) = logged.Scalars("validation/loss")
    record = json.loads((out / "metrics.jsonl").read_text())
    assert (loss.step, loss.value) == (1, float(np.float32(record["validation"]["loss"])))
    assert [e.step for e in logged.Images("images/samples")] == [1]
