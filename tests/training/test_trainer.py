"""The trainer: every spec learns, objectives never leak gradients, runs resume exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tiny import MODELS, tiny_spec

import gaespec
from gaespec.compose import build
from gaespec.errors import RunError, TrainingError
from gaespec.graph.lower import lower
from gaespec.training.state import load_state
from gaespec.training.trainer import Trainer, epoch_order


def make_trainer(spec, data, **options):
    torch.manual_seed(0)
    graph = lower(spec)
    return Trainer(
        build(graph),
        graph.objectives,
        data,
        batch_size=spec.train.batch_size,
        progress=False,
        **options,
    )


@pytest.mark.parametrize("name", MODELS)
def test_every_spec_learns(name, digits):
    trainer = make_trainer(tiny_spec(name), digits)
    before = trainer.evaluate(digits.validation)
    for _ in range(6):  # a VQ codebook needs a few epochs to catch up with the encoder
        trainer.train_epoch()
        trainer.epoch += 1
    after = trainer.evaluate(digits.validation)
    first = trainer.objectives[0].name
    assert after[first] < 0.8 * before[first], (before, after)
    assert trainer.step == 6 * (len(digits.train) // 32 + 1)


def test_objectives_do_not_leak_gradients(digits):
    """Each objective's gradient equals autograd's gradient of that objective alone."""
    trainer = make_trainer(tiny_spec("aae"), digits)
    model = trainer.model
    for optimizer in trainer.optimizers.values():
        optimizer.step = lambda: None  # keep the weights: look at the gradients only
    x = digits.train.x[:32]
    torch.manual_seed(1)
    out = trainer.train_step(x)
    torch.manual_seed(1)
    again = model(x)
    groups = model.parameter_groups()
    expected_ae = torch.autograd.grad(
        again.losses["autoencoder"], groups["autoencoder"], retain_graph=True
    )
    expected_critic = torch.autograd.grad(
        again.losses["critic"], groups["critic"], retain_graph=True
    )
    assert torch.equal(out.losses["autoencoder"], again.losses["autoencoder"])
    for p, g in zip(groups["autoencoder"], expected_ae, strict=True):
        assert torch.allclose(p.grad, g)
    for p, g in zip(groups["critic"], expected_critic, strict=True):
        assert torch.allclose(p.grad, g)


def test_epoch_order_is_a_seeded_permutation_split_per_rank():
    order = epoch_order(10, seed=3, epoch=2)
    assert sorted(order.tolist()) == list(range(10))
    assert torch.equal(order, epoch_order(10, seed=3, epoch=2))
    assert not torch.equal(order, epoch_order(10, seed=3, epoch=3))
    shares = [epoch_order(10, seed=3, epoch=2, rank=r, world_size=3) for r in range(3)]
    assert [len(s) for s in shares] == [3, 3, 3]
    assert len(set(torch.cat(shares).tolist())) == 9


def test_resume_ends_with_the_same_weights(tmp_path, digits):
    spec = tiny_spec("vae", "train.batch_size=64")
    straight = gaespec.train(
        spec, data=digits, epochs=3, out=tmp_path / "a", progress=False, log=lambda *_: None
    )

    class Killed(Exception):
        pass

    calls = {"n": 0}
    original = Trainer.train_step

    def dies_in_epoch_three(self, x):
        calls["n"] += 1
        if self.epoch == 2 and calls["n"] > 45:
            raise Killed
        return original(self, x)

    Trainer.train_step = dies_in_epoch_three
    try:
        with pytest.raises(Killed):
            gaespec.train(
                spec, data=digits, epochs=3, out=tmp_path / "b", progress=False, log=lambda *_: None
            )
    finally:
        Trainer.train_step = original
    assert load_state(tmp_path / "b" / "last.safetensors")["epoch"] == 2
    resumed = gaespec.train(
        spec,
        data=digits,
        epochs=3,
        out=tmp_path / "b",
        resume=True,
        progress=False,
        log=lambda *_: None,
    )
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key

    def records(folder):
        lines = (tmp_path / folder / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]

    assert [r["epoch"] for r in records("b")] == [1, 2, 3]
    assert records("b") == records("a")


def test_checkpoint_holds_the_whole_state(tmp_path, digits):
    spec = tiny_spec("aae")
    gaespec.train(spec, data=digits, epochs=1, out=tmp_path, progress=False, log=lambda *_: None)
    state = load_state(tmp_path / "last.safetensors")
    assert set(state) == {"model", "optimizers", "schedulers", "rng", "step", "epoch", "best"}
    assert set(state["optimizers"]) == {"autoencoder", "critic"}
    assert state["step"] == len(digits.train) // 32 + 1
    record = json.loads((tmp_path / "metrics.jsonl").read_text())
    assert set(record["train"]) == {"recon", "adversarial", "critic_bce", "autoencoder", "critic"}
    assert set(record["validation"]) == set(record["train"])


def test_refuses_to_overwrite_or_resume_from_another_spec(tmp_path, digits):
    spec = tiny_spec("vae")
    gaespec.train(spec, data=digits, epochs=1, out=tmp_path, progress=False, log=lambda *_: None)
    with pytest.raises(RunError) as caught:
        gaespec.train(spec, data=digits, epochs=1, out=tmp_path, progress=False)
    assert str(caught.value) == (
        f"'{tmp_path}' already holds a run; fix: pass --resume, or choose another --out"
    )
    with pytest.raises(RunError) as caught:
        gaespec.train(
            tiny_spec("vae", "params.beta=2"),
            data=digits,
            epochs=2,
            out=tmp_path,
            resume=True,
            progress=False,
        )
    assert f"cannot resume: '{tmp_path}' was trained from a different spec" in str(caught.value)
    other = tmp_path.parent / "other.npy"
    np.save(other, digits.train.x.numpy())
    with pytest.raises(RunError) as caught:
        gaespec.train(spec, data=str(other), epochs=2, out=tmp_path, resume=True, progress=False)
    assert str(caught.value) == (
        f"cannot resume: '{tmp_path}' was trained on data 'sklearn_digits', not '{other}'; "
        "fix: pass --data sklearn_digits"
    )


def test_a_non_finite_loss_stops_with_a_clear_message(digits):
    trainer = make_trainer(tiny_spec("vae", "objective.optimizer.lr=1e30"), digits)
    with pytest.raises(TrainingError) as caught:
        for _ in range(5):
            trainer.train_epoch()
    assert "objective 'loss' is nan at step" in str(caught.value)
    assert str(caught.value).endswith("fix: lower the learning rate, or check the data's range")


def test_optimizer_and_scheduler_by_name(digits):
    spec = tiny_spec(
        "vae",
        'objective.optimizer={name="SGD", lr=0.1, momentum=0.9}',
        'objective.scheduler={name="steplr", step_size=2, gamma=0.5, interval="step"}',
    )
    trainer = make_trainer(spec, digits)
    assert type(trainer.optimizers["loss"]).__name__ == "SGD"
    for _ in range(4):
        trainer.train_step(digits.train.x[:32])
    assert trainer.optimizers["loss"].param_groups[0]["lr"] == pytest.approx(0.025)
    with pytest.raises(TrainingError) as caught:
        make_trainer(tiny_spec("vae", "objective.optimizer.name=adamm"), digits)
    assert str(caught.value).startswith("objective.optimizer.name: unknown optimizer 'adamm'")
    assert caught.value.suggestions[0] == "adam"


def test_optimizer_options_and_devices_are_checked(digits):
    with pytest.raises(TrainingError) as caught:
        make_trainer(tiny_spec("vae", "objective.optimizer.betas2=[0.5, 0.9]"), digits)
    assert str(caught.value).startswith("objective.optimizer.betas2: Adam has no option 'betas2'")
    assert caught.value.suggestions[0] == "betas"
    with pytest.raises(TrainingError) as caught:
        gaespec.train(tiny_spec("vae"), data=digits, epochs=1, device="gpu", progress=False)
    assert str(caught.value) == ("--device: unknown device 'gpu'; closest valid choice: 'cpu'")


def test_a_bad_optimizer_table_is_reported_where_it_was_set(digits, tmp_path):
    with pytest.raises(TrainingError) as caught:
        gaespec.train(
            tiny_spec("vae", "objective.optimizer.betas2=[0.5, 0.9]"),
            data=digits,
            out=tmp_path,
            progress=False,
        )
    assert str(caught.value) == (
        "--set: objective.optimizer.betas2: Adam has no option 'betas2'; "
        "closest valid choice: 'betas'"
    )
