"""The run folder: load_run reads TOML, JSON and safetensors only, and gives a working model."""

from __future__ import annotations

import pytest
import torch
from tiny import tiny_spec

import gaespec
from gaespec.errors import RunError


@pytest.fixture
def trained(tmp_path, digits):
    run = gaespec.train(
        tiny_spec("vqvae"),
        data=digits,
        epochs=2,
        out=tmp_path / "run",
        progress=False,
        log=lambda *_: None,
    )
    return run


def test_round_trip_through_the_run_folder(trained, digits):
    model = gaespec.load_run(trained.path, which="last")
    assert not model.training
    saved, live = model.state_dict(), trained.model.state_dict()
    assert all(torch.equal(saved[k], live[k]) for k in live)
    x = digits.test.x[:5]
    trained.model.eval()
    assert torch.equal(model.reconstruct(x), trained.model.reconstruct(x))
    assert model.sample(3).shape == (3, 1, 8, 8)
    assert model.run.training["data"] == "sklearn_digits"
    assert model.run.spec.model.name == "vqvae"


def test_best_weights_are_the_best_validation_epoch(tmp_path, digits, monkeypatch):
    from gaespec.training.trainer import Trainer

    evaluate = Trainer.evaluate

    def worse_in_epoch_two(self, split):
        result = evaluate(self, split)
        result["loss"] = [1.0, 2.0][self.epoch]  # epoch 1 scores best
        return result

    monkeypatch.setattr(Trainer, "evaluate", worse_in_epoch_two)
    run = gaespec.train(
        tiny_spec("vae"), data=digits, epochs=2, out=tmp_path, progress=False, log=lambda *_: None
    )
    best = gaespec.load_run(tmp_path)
    last = gaespec.load_run(tmp_path, which="last")
    assert (best.run.epoch, last.run.epoch) == (1, 2)
    assert best.run.step == len(digits.train) // 32 + 1
    assert all(
        torch.equal(a, b)
        for a, b in zip(last.state_dict().values(), run.model.state_dict().values(), strict=True)
    )
    assert not all(
        torch.equal(a, b)
        for a, b in zip(best.state_dict().values(), last.state_dict().values(), strict=True)
    )


def test_the_resolved_spec_needs_no_parent(trained):
    text = (trained.path / "spec.toml").read_text()
    assert "extends" not in text
    assert gaespec.load_spec(trained.path / "spec.toml").model_dump() == (
        tiny_spec("vqvae", "train.data=sklearn_digits").model_dump()  # the data the run used
    )


def test_loading_never_unpickles(trained, monkeypatch):
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    for which in ("best", "last"):
        assert gaespec.load_run(trained.path, which=which).sample(2).shape == (2, 1, 8, 8)
    for path in trained.path.iterdir():
        assert path.suffix in {".toml", ".json", ".jsonl", ".safetensors"}, path


def test_custom_nets_need_trust(trained):
    spec_file = trained.path / "spec.toml"
    text = spec_file.read_text().replace('arch = "mlp"', 'arch = "tiny_nets:Encoder"', 1)
    spec_file.write_text(text)
    with pytest.raises(RunError) as caught:
        gaespec.load_run(trained.path)
    assert str(caught.value).endswith(
        "uses custom net tiny_nets:Encoder; importing it runs its code; fix: pass "
        "trust_code=True (CLI: --trust-code) if you trust where this run came from"
    )


def test_not_a_run(tmp_path):
    with pytest.raises(RunError) as caught:
        gaespec.load_run(tmp_path)
    assert str(caught.value) == (
        f"'{tmp_path}' is not a gaespec run: it has no spec.toml; "
        "fix: give the --out folder of `gaespec train`"
    )
