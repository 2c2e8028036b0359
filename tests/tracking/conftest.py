"""What the tracker tests share: a tiny two-objective model trained with trackers on, what its
metrics.jsonl says each tracker must hold, and a check of the epoch's grids against the model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny import tiny_spec

import gaespec
from gaespec.runs import METRICS, TRAINING, read_json, read_metrics

CELL = 8 + 2  # an 8×8 digit and make_grid's padding of 2


@pytest.fixture
def stop_in_epoch_3(train_tracked, monkeypatch):
    """stop_in_epoch_3(track): train with `track` on and press Ctrl-C in epoch 3 (its
    evaluation), after two finished epochs."""
    from gaespec.training.trainer import Trainer

    evaluate = Trainer.evaluate

    def evaluate_until_epoch_3(self, split):
        if self.epoch == 2:
            raise KeyboardInterrupt  # Ctrl-C in epoch 3
        return evaluate(self, split)

    def stop(track: list[str]) -> None:
        with monkeypatch.context() as patch:
            patch.setattr(Trainer, "evaluate", evaluate_until_epoch_3)
            with pytest.raises(KeyboardInterrupt):
                train_tracked(track, epochs=3)

    return stop


@pytest.fixture
def train_tracked(tmp_path, digits):
    """train(track, epochs=2, resume=False, out=tmp_path/"run"): FactorVAE (two objectives,
    each with its own optimiser) on the 8×8 digits, with the trackers `track` on."""

    def train(track, *, epochs=2, resume=False, out=None, **options):
        return gaespec.train(
            tiny_spec("factor_vae"),
            data=digits,
            epochs=epochs,
            out=out or tmp_path / "run",
            resume=resume,
            progress=False,
            log=lambda *_: None,
            track=track,
            **options,
        )

    return train


def expected_scalars(run) -> dict[str, dict[int, float]]:
    """Every number a tracker must hold, name → {epoch: value}, from the run's metrics.jsonl."""
    expected: dict[str, dict[int, float]] = {}
    for record in read_metrics(run.path / METRICS):
        epoch = record["epoch"]
        for split in ("train", "validation"):
            for name, value in record[split].items():
                expected.setdefault(f"{split}/{name}", {})[epoch] = value
        for objective, lr in record["lr"].items():
            expected.setdefault(f"lr/{objective}", {})[epoch] = lr
        expected.setdefault("time/seconds", {})[epoch] = record["seconds"]
        expected.setdefault("time/step", {})[epoch] = record["step"]
    return expected


@pytest.fixture
def scalars_of():
    """expected_scalars, as a fixture."""
    return expected_scalars


def _cells(pixels: np.ndarray, rows: int) -> torch.Tensor:
    """The 8×8 images of a grid of 8 per row, as (rows·8, 8, 8) uint8."""
    pixels = torch.tensor(pixels if pixels.ndim == 2 else pixels[..., 0])
    return torch.stack(
        [
            pixels[2 + r * CELL : 2 + r * CELL + 8, 2 + c * CELL : 2 + c * CELL + 8]
            for r in range(rows)
            for c in range(8)
        ]
    )


def _bytes(images: torch.Tensor) -> torch.Tensor:
    return images.clamp(0, 1).mul(255).round().to(torch.uint8)[:, 0]


def check_grids(run, digits, samples: np.ndarray, reconstructions: np.ndarray) -> None:
    """The last epoch's grids show the run's final model: 64 prior samples drawn with the run's
    seed, and the first 32 validation images (rows 0, 2, 4, 6) above their reconstructions."""
    model = run.model.eval()
    x = digits.validation.x[:32]
    seed = read_json(run.path / TRAINING)["seed"]
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(seed)
        drawn = model.sample(64)
        rebuilt = model.reconstruct(x)
    assert samples.shape[:2] == reconstructions.shape[:2] == (8 * CELL + 2, 8 * CELL + 2)
    cells = _cells(reconstructions, 8).reshape(4, 2, 8, 8, 8)
    assert torch.equal(cells[:, 0].reshape(32, 8, 8), _bytes(x))
    got = cells[:, 1].reshape(32, 8, 8).int()
    assert (got - _bytes(rebuilt).int()).abs().max() <= 1
    assert (_cells(samples, 8).int() - _bytes(drawn).int()).abs().max() <= 1


@pytest.fixture
def grids_match(digits):
    """check_grids(run, samples, reconstructions), as a fixture."""
    return lambda run, samples, reconstructions: check_grids(run, digits, samples, reconstructions)
