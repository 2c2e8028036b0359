"""What every tracker logs: an epoch record's scalars under their names, parameters flattened."""

from __future__ import annotations

from pathlib import Path

from gaespec.tracking.base import TrackedRun, flatten, parameters, scalars

RECORD = {
    "epoch": 3,
    "step": 120,
    "train": {"recon": 10.5, "kl": 2.0, "loss": 12.5},
    "validation": {"recon": 11.0, "kl": 2.25, "loss": 13.25},
    "lr": {"loss": 0.001, "critic": 0.0001},
    "seconds": 1.75,
}


def test_an_epoch_record_becomes_named_scalars():
    assert scalars(RECORD) == {
        "train/recon": 10.5,
        "train/kl": 2.0,
        "train/loss": 12.5,
        "validation/recon": 11.0,
        "validation/kl": 2.25,
        "validation/loss": 13.25,
        "lr/loss": 0.001,
        "lr/critic": 0.0001,
        "time/seconds": 1.75,
        "time/step": 120.0,
    }


def test_tables_flatten_to_dotted_keys_and_lists_to_json():
    assert flatten({"a": {"b": 1, "c": {"d": "x"}}, "e": [1, 2], "f": True, "g": None}) == {
        "a.b": 1,
        "a.c.d": "x",
        "e": "[1, 2]",
        "f": True,
        "g": "null",
    }
    run = TrackedRun(
        path=Path("r"),
        name="r",
        spec_toml="",
        spec={"latent": {"dim": 4}},
        config={"seed": 0, "sizes": {"train": 10}},
        objectives=("loss",),
    )
    assert parameters(run) == {"spec.latent.dim": 4, "training.seed": 0, "training.sizes.train": 10}
