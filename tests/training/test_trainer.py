"""The trainer: every spec learns, objectives never leak gradients, runs resume exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from checks import assert_same_state
from tiny import MODELS, TINY, tiny_spec

import gaespec
from gaespec.compose import build
from gaespec.data import load_data
from gaespec.errors import RunError, TrainingError
from gaespec.graph.lower import lower
from gaespec.training.state import load_state
from gaespec.training.trainer import Trainer, batch_sizes, epoch_order


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


def _module_weights(model, names) -> dict[str, dict[str, torch.Tensor]]:
    return {
        n: {k: v.detach().clone() for k, v in getattr(model, n).state_dict().items()} for n in names
    }


def _code_power(model, x) -> float:
    """The mean over x of ‖z‖², z the posterior mean (in evaluation mode, as `evaluate`)."""
    model.eval()
    with torch.no_grad():
        power = model.encode(x).mean.pow(2).sum(-1).mean().item()
    model.train()
    return power


# specs whose first objective measures reconstructions with a module that another objective
# trains: that yardstick moves, so only the pixel reconstruction (`recon`) must fall
MOVING_YARDSTICK = {"vaegan"}  # the encoder's loss reads the discriminator's features
# specs whose loss carries a constant of the estimator (β-TC-VAE's minibatch weighted sampling
# adds (α + β(d−1) − γd)·log N, with no gradient): it must fall, not by a fifth of its value
OFFSET = {"beta_tc_vae"}


@pytest.mark.parametrize("name", MODELS)
def test_every_spec_learns(name, digits):
    """Every objective's loss falls, and every module an objective trains moves."""
    trainer = make_trainer(tiny_spec(name), digits)
    trained = sorted({m for o in trainer.objectives for m in o.params})
    initial = _module_weights(trainer.model, trained)
    before = trainer.evaluate(digits.validation)
    before_power = _code_power(trainer.model, digits.validation.x)
    for _ in range(6):  # a VQ codebook needs a few epochs to catch up with the encoder
        trainer.train_epoch()
        trainer.epoch += 1
    after = trainer.evaluate(digits.validation)
    assert trainer.step == 6 * (len(digits.train) // 32 + 1)
    main = trainer.objectives[0].name
    if name in MOVING_YARDSTICK:
        pass
    elif name in OFFSET:
        assert after[main] < before[main], (before, after)
    else:
        assert after[main] < 0.8 * before[main], (before, after)
    # an adversary's loss need not fall over a whole run (its opponent learns too): that each
    # objective's own steps lower its own loss is test_each_objective_lowers_its_own_loss
    if "recon" in before:
        assert after["recon"] < 0.8 * before["recon"], (before["recon"], after["recon"])
    if "codebook_loss" in before:  # ‖z − e‖² relative to ‖z‖²: the codes grow as they learn
        relative = [
            loss / power
            for loss, power in (
                (before["codebook_loss"], before_power),
                (after["codebook_loss"], _code_power(trainer.model, digits.validation.x)),
            )
        ]
        assert relative[1] < 0.8 * relative[0], relative
    final = _module_weights(trainer.model, trained)
    for module in trained:
        moved = [
            k for k in initial[module] if not torch.equal(initial[module][k], final[module][k])
        ]
        parameters = [k for k, _ in getattr(trainer.model, module).named_parameters()]
        assert set(parameters) <= set(moved), (module, set(parameters) - set(moved))


def _loss_on(model, x, objective: str) -> float:
    torch.manual_seed(5)  # the draws train_step saw
    with torch.no_grad():
        return model(x).losses[objective].item()


@pytest.mark.parametrize("name", ["vqvae", "aae"])
def test_each_objective_lowers_its_own_loss(name, digits):
    """Stepping one objective's optimiser alone, on one batch, lowers that objective's loss on
    that batch (with the same random draws): each objective learns, whatever the others do."""
    x = digits.train.x[:64]
    for objective in make_trainer(tiny_spec(name), digits).objectives:
        trainer = make_trainer(tiny_spec(name), digits)
        for other, optimizer in trainer.optimizers.items():
            if other != objective.name:
                optimizer.step = lambda: None

        start = _loss_on(trainer.model, x, objective.name)
        for _ in range(5):
            torch.manual_seed(5)
            trainer.train_step(x)
        end = _loss_on(trainer.model, x, objective.name)
        assert end < start - 1e-3 * abs(start), (objective.name, start, end)


ADVERSARIAL = [name for name in MODELS if len(tiny_spec(name).all_objectives) > 1]


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_each_objective_moves_its_own_modules_and_no_others(name, digits):
    """Stepping one objective's optimiser alone changes the parameters of the modules it trains
    and leaves every other parameter as it was (batch-norm statistics aside: they are buffers)."""
    x = digits.train.x[:64]
    for objective in make_trainer(tiny_spec(name), digits).objectives:
        trainer = make_trainer(tiny_spec(name), digits)
        for other, optimizer in trainer.optimizers.items():
            if other != objective.name:
                optimizer.step = lambda: None
        before = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}
        for _ in range(2):
            trainer.train_step(x)
        for key, value in trainer.model.named_parameters():
            owner = key.split(".", 1)[0]
            changed = not torch.equal(before[key], value)
            assert changed == (owner in objective.params), (objective.name, key, changed)


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_objectives_do_not_leak_gradients(name, digits):
    """Each objective's gradient equals autograd's gradient of that objective alone."""
    trainer = make_trainer(tiny_spec(name), digits)
    model = trainer.model
    for optimizer in trainer.optimizers.values():
        optimizer.step = lambda: None  # keep the weights: look at the gradients only
    x = digits.train.x[:32]
    torch.manual_seed(1)
    out = trainer.train_step(x)
    torch.manual_seed(1)
    again = model(x, dataset_size=len(digits.train))
    groups = model.parameter_groups()
    for objective in trainer.objectives:
        assert torch.equal(out.losses[objective.name], again.losses[objective.name])
        expected = torch.autograd.grad(
            again.losses[objective.name], groups[objective.name], retain_graph=True
        )
        for p, g in zip(groups[objective.name], expected, strict=True):
            torch.testing.assert_close(p.grad, g, rtol=1e-5, atol=1e-6)


def test_a_batch_too_small_to_share_between_torchruns_processes_is_refused(digits, monkeypatch):
    """Checked before any process group is made (which would wait for the other process)."""
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(TrainingError) as caught:
        make_trainer(tiny_spec("vae", "train.batch_size=6"), digits)
    assert str(caught.value) == (
        "train.batch_size: batch_size 6 gives some of the 4 processes fewer than two samples of "
        "each batch; fix: set train.batch_size to 8 or more (it is the batch of all processes "
        "together)"
    )


def test_epoch_order_is_a_seeded_permutation():
    order = epoch_order(10, seed=3, epoch=2)
    assert sorted(order.tolist()) == list(range(10))
    assert torch.equal(order, epoch_order(10, seed=3, epoch=2))
    assert not torch.equal(order, epoch_order(10, seed=3, epoch=3))


def test_batch_sizes_leave_out_a_last_batch_too_small_for_every_process_to_take_two():
    assert batch_sizes(70, 32) == [32, 32, 6]
    assert batch_sizes(65, 32) == [32, 32]  # batch norm cannot train on one sample
    assert batch_sizes(70, 32, processes=4) == [32, 32]  # 6 cannot give 4 processes 2 each
    assert batch_sizes(72, 32, processes=4) == [32, 32, 8]
    assert batch_sizes(1, 32) == [1]  # the only batch stays


SCHEDULED_AAE = (
    'objectives.0.scheduler={name="steplr", step_size=30, gamma=0.5, interval="step"}',
    'objectives.1.scheduler={name="exponentiallr", gamma=0.8, interval="epoch"}',
)


def test_resume_ends_with_the_same_state(tmp_path, digits, monkeypatch):
    """Two objectives, a per-step and a per-epoch scheduler: killed in epoch 3 and resumed, the
    run ends with the weights, optimisers, schedulers and metrics of a run never killed."""
    spec = tiny_spec("aae", *SCHEDULED_AAE)
    quiet = {"data": digits, "epochs": 4, "progress": False, "log": lambda *_: None}
    gaespec.train(spec, out=tmp_path / "a", **quiet)

    class Killed(Exception):
        pass

    calls = {"n": 0}
    original = Trainer.train_step

    def dies_in_epoch_three(self, x, share=None):
        calls["n"] += 1
        if self.epoch == 2 and calls["n"] > 95:
            raise Killed
        return original(self, x, share)

    monkeypatch.setattr(Trainer, "train_step", dies_in_epoch_three)
    with pytest.raises(Killed):
        gaespec.train(spec, out=tmp_path / "b", **quiet)
    monkeypatch.undo()
    assert load_state(tmp_path / "b" / "last.safetensors")["epoch"] == 2
    gaespec.train(spec, out=tmp_path / "b", resume=True, **quiet)
    a, b = (load_state(tmp_path / f / "last.safetensors") for f in "ab")
    assert set(a["schedulers"]) == {"autoencoder", "critic"}
    assert a["schedulers"]["autoencoder"]["last_epoch"] == 4 * (len(digits.train) // 32 + 1)
    assert a["schedulers"]["critic"]["last_epoch"] == 4
    assert_same_state(a, b)

    def records(folder):
        lines = (tmp_path / folder / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]

    assert [r["epoch"] for r in records("b")] == [1, 2, 3, 4]
    assert records("b") == records("a")
    assert records("a")[3]["lr"] == pytest.approx(
        {"autoencoder": 1e-3 * 0.5**5, "critic": 1e-3 * 0.8**4}
    )


def test_resume_says_when_the_environment_changed(tmp_path, digits):
    spec = tiny_spec("vae")
    quiet = {"data": digits, "epochs": 1, "progress": False, "log": lambda *_: None}
    gaespec.train(spec, out=tmp_path, **quiet)
    environment = json.loads((tmp_path / "environment.json").read_text())
    assert environment["threads"] == torch.get_num_threads()
    assert environment["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert {"cpu", "device", "device_name", "torch", "numpy", "python"} <= set(environment)
    said = []
    gaespec.train(spec, out=tmp_path, resume=True, **{**quiet, "epochs": 2, "log": said.append})
    assert not any(line.startswith("note:") for line in said), said
    environment.update(threads=environment["threads"] + 7, torch="1.0")
    (tmp_path / "environment.json").write_text(json.dumps(environment))
    said = []
    gaespec.train(spec, out=tmp_path, resume=True, **{**quiet, "epochs": 3, "log": said.append})
    threads = torch.get_num_threads()
    assert said[1] == (
        f"note: this run started in another environment (torch '1.0' -> '{torch.__version__}', "
        f"threads {threads + 7} -> {threads}); it goes on, but its numbers need not equal, "
        "bit for bit, those of a run never interrupted"
    )


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


def _poison_decoder_after(monkeypatch, step: int) -> None:
    """From optimiser step `step` on, the decoder's weights are NaN (as a diverging step leaves
    them)."""
    original = Trainer.train_step

    def poisoned(self, x, share=None):
        out = original(self, x, share)
        if self.step == step:
            with torch.no_grad():
                for p in self.model.decoder.parameters():
                    p.fill_(float("nan"))
        return out

    monkeypatch.setattr(Trainer, "train_step", poisoned)


def test_a_non_finite_term_stops_the_run_and_keeps_the_last_good_state(
    tmp_path, digits, monkeypatch
):
    spec = tiny_spec("vae")
    steps = len(digits.train) // 32 + 1
    _poison_decoder_after(monkeypatch, steps + 5)  # in epoch 2
    with pytest.raises(TrainingError) as caught:
        gaespec.train(
            spec, data=digits, epochs=3, out=tmp_path, progress=False, log=lambda *_: None
        )
    message = str(caught.value)
    assert message.startswith(f"term 'recon' = nan at step {steps + 5} (epoch 2) (finite: kl = ")
    assert message.endswith(
        f"'{tmp_path / 'last.safetensors'}' keeps epoch 1, the last good state; "
        "fix: lower the learning rate, or check the data's range"
    )
    state = load_state(tmp_path / "last.safetensors")
    assert state["epoch"] == 1 and state["step"] == steps
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1]
    monkeypatch.undo()
    model = gaespec.load_run(tmp_path, which="last")  # the kept state loads and runs
    assert torch.isfinite(model.reconstruct(digits.test.x[:4])).all()


def test_non_finite_weights_at_an_epoch_end_save_nothing(tmp_path, digits, monkeypatch):
    steps = len(digits.train) // 32 + 1
    _poison_decoder_after(monkeypatch, steps)  # the last step of epoch 1
    with pytest.raises(TrainingError) as caught:
        gaespec.train(tiny_spec("vae"), data=digits, epochs=2, out=tmp_path, progress=False)
    assert str(caught.value) == (
        f"weight 'decoder.layers.0.weight' is not finite after step {steps}; no epoch had "
        "finished, so nothing was saved; fix: lower the learning rate, or check the data's range"
    )
    assert not (tmp_path / "last.safetensors").exists()
    assert not (tmp_path / "model.safetensors").exists()


def test_a_non_finite_term_in_the_evaluation_is_named(digits):
    trainer = make_trainer(tiny_spec("vae"), digits)
    with torch.no_grad():
        trainer.model.decoder.layers[0].bias.fill_(float("inf"))
    with pytest.raises(TrainingError) as caught:
        trainer.evaluate(digits.validation)
    assert str(caught.value).startswith("term 'recon' = nan in the evaluation after step 0")


def test_a_non_finite_objective_of_finite_terms_is_named(digits):
    trainer = make_trainer(tiny_spec("vae", 'objective.loss="exp(100 * recon)"'), digits)
    trainer.train_step(digits.train.x[:32])  # the step does not wait to look at its values
    with pytest.raises(TrainingError) as caught:
        trainer.check_finite()
    message = str(caught.value)
    assert message.startswith("objective 'loss' = inf at step 0 (epoch 1) (finite: recon = ")
    assert message.endswith("; fix: lower the learning rate, or check the data's range")


def test_the_host_looks_every_check_every_steps_and_names_the_first_bad_step(digits):
    """Steps queue their values; every check_every steps the host looks, and the error names
    the first step whose value was not finite, with that step's values."""
    trainer = make_trainer(tiny_spec("vae"), digits, check_every=4)
    x = digits.train.x[:32]
    trainer.train_step(x)
    with torch.no_grad():
        trainer.model.decoder.layers[0].bias.fill_(float("nan"))
    trainer.train_step(x)  # step 1: recon is NaN, and the host has not looked yet
    trainer.train_step(x)
    with pytest.raises(TrainingError) as caught:
        trainer.train_step(x)  # the fourth value queued: the host looks
    assert str(caught.value).startswith("term 'recon' = nan at step 1 (epoch 1) (finite: kl = ")
    assert trainer.step == 3  # the fourth step's optimisers had not stepped yet


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


def test_resume_refuses_a_damaged_training_state(tmp_path, digits):
    from gaespec.training.state import save_state

    spec = tiny_spec("aae")
    quiet = {"data": digits, "progress": False, "log": lambda *_: None}
    gaespec.train(spec, epochs=1, out=tmp_path, **quiet)
    state = load_state(tmp_path / "last.safetensors")
    del state["optimizers"]["critic"]
    save_state(tmp_path / "last.safetensors", state)
    with pytest.raises(RunError) as caught:
        gaespec.train(spec, epochs=2, out=tmp_path, resume=True, **quiet)
    assert str(caught.value) == (
        f"cannot resume: '{tmp_path / 'last.safetensors'}' is damaged or holds another model's "
        "state (KeyError: 'critic'); fix: start the run again with another --out"
    )


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("epoch", "1", "its epoch is '1', not a whole number >= 0"),
        ("step", -3, "its step is -3, not a whole number >= 0"),
        ("best", "x", "its best is 'x', not a number"),
    ],
)
def test_resume_refuses_damaged_counters(tmp_path, digits, key, value, why):
    from gaespec.training.state import save_state

    quiet = {"data": digits, "progress": False, "log": lambda *_: None}
    gaespec.train(tiny_spec("vae"), epochs=1, out=tmp_path, **quiet)
    last = tmp_path / "last.safetensors"
    state = load_state(last)
    state[key] = value
    save_state(last, state)
    with pytest.raises(RunError) as caught:
        gaespec.train(tiny_spec("vae"), epochs=2, out=tmp_path, resume=True, **quiet)
    assert str(caught.value) == f"'{last}' is damaged: {why}"


def test_a_non_finite_optimiser_state_stops_before_it_is_saved(tmp_path, digits, monkeypatch):
    """Adam's second moment can overflow while the loss stays finite: the run stops, saying
    where, and keeps the last good state."""
    steps = len(digits.train) // 32 + 1
    original = Trainer.train_step

    def overflowing(self, x, share=None):
        out = original(self, x, share)
        if self.step == steps + 3:
            weight = self.model.decoder.layers[0].weight
            self.optimizers["loss"].state[weight]["exp_avg_sq"].fill_(float("inf"))
        return out

    monkeypatch.setattr(Trainer, "train_step", overflowing)
    with pytest.raises(TrainingError) as caught:
        gaespec.train(
            tiny_spec("vae"),
            data=digits,
            epochs=3,
            out=tmp_path,
            progress=False,
            log=lambda *_: None,
        )
    assert str(caught.value) == (
        "the optimiser of objective 'loss' holds a non-finite 'exp_avg_sq' for weight "
        f"'decoder.layers.0.weight' after step {2 * steps}; '{tmp_path / 'last.safetensors'}' "
        "keeps epoch 1, the last good state; fix: lower the learning rate, or check the data's "
        "range"
    )
    assert load_state(tmp_path / "last.safetensors")["epoch"] == 1


def test_a_term_that_differentiates_runs_in_the_validation_pass_of_gaespec_train(tmp_path, digits):
    """`gaespec train` evaluates without gradients; the penalty's calls get theirs back."""
    from typer.testing import CliRunner

    from gaespec.cli import app

    overrides = [
        *TINY,
        "terms.gp={kind='gradient_penalty', output='x_hat', wrt='z'}",
        "objective.loss='recon + 0.1 * gp'",
    ]
    args = ["train", "specs/models/ae.toml", "--data", "sklearn_digits", "--epochs", "1"]
    args += ["--out", str(tmp_path), "--quiet", *(a for o in overrides for a in ("--set", o))]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "metrics.jsonl").read_text())
    model = gaespec.load_run(tmp_path, which="last")  # eval mode, as the validation pass
    total = 0.0
    for x in torch.split(digits.validation.x, 500):
        z = model.encode(x).mean.detach().requires_grad_()
        x_hat = model.decode(z)
        (grad,) = torch.autograd.grad(x_hat.sum(), z)
        total += (grad**2).sum(-1).sum().item()
    expected = total / len(digits.validation.x)
    assert expected > 0
    torch.testing.assert_close(record["validation"]["gp"], expected, rtol=1e-5, atol=1e-9)


def test_bf16_autocasts_the_forward_pass_and_keeps_fp32_weights(digits):
    """Under precision="bf16" the nets compute in bfloat16, the weights and their optimiser
    state stay fp32, and the loss is the fp32 loss to bfloat16's precision."""
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        pytest.skip("this CPU has no bfloat16 kernels")
    x = digits.train.x[:32]
    fp32 = make_trainer(tiny_spec("vae"), digits)
    bf16 = make_trainer(tiny_spec("vae"), digits, precision="bf16")
    seen = []
    bf16.model.decoder.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    torch.manual_seed(3)
    a = fp32.train_step(x).losses["loss"].item()
    torch.manual_seed(3)
    b = bf16.train_step(x).losses["loss"].item()
    assert seen == [torch.bfloat16]
    assert all(p.dtype == torch.float32 for p in bf16.model.parameters())
    assert all(
        v.dtype == torch.float32
        for state in bf16.optimizers["loss"].state.values()
        for v in state.values()
        if v.dim() > 0
    )
    assert a == pytest.approx(b, rel=2e-2)  # bfloat16 keeps 8 bits of mantissa
    assert a != b


def test_fp16_on_a_cpu_is_refused_with_the_fix(tmp_path, digits):
    with pytest.raises(TrainingError) as caught:
        gaespec.train(tiny_spec("vae", 'train.precision="fp16"'), data=digits, out=tmp_path)
    message = str(caught.value)
    assert message.endswith(
        "train.precision: fp16 training needs a GPU: on a CPU float16 arithmetic is emulated and "
        'slow; fix: use precision = "bf16" where the CPU has bfloat16 kernels, or "fp32"'
    )


def test_channels_last_changes_the_layout_not_the_numbers():
    """The MNIST ConvNet VAE in float64 (where a sum's order is invisible): channels-last weights
    and batches give the plain layout's loss and gradients. (In float32 the two differ by
    rounding, which batch norm over 8 images amplifies to ~5e-3 of a gradient's norm.)"""
    data = load_data("mnist5k")
    spec = gaespec.load_spec("specs/models/vae.toml", ["train.batch_size=8"])
    x = data.train.x[:8].double()
    losses, grads = [], []
    for channels_last in (False, True):
        torch.manual_seed(0)
        graph = lower(spec)
        trainer = Trainer(
            build(graph).double(),
            graph.objectives,
            data,
            batch_size=8,
            progress=False,
            channels_last=channels_last,
        )
        conv = trainer.model.encoder.layers[3].weight  # the second conv (the first has c = 1)
        assert conv.is_contiguous(memory_format=torch.channels_last) == channels_last
        assert conv.is_contiguous() != channels_last
        trainer.optimizers["loss"].step = lambda: None  # keep the weights: compare gradients
        torch.manual_seed(3)
        losses.append(trainer.train_step(x).losses["loss"])
        grads.append({n: p.grad for n, p in trainer.model.named_parameters()})
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-12, atol=0.0)
    for name, g in grads[0].items():
        torch.testing.assert_close(
            g, grads[1][name], rtol=1e-9, atol=1e-9, msg=lambda m, name=name: f"{name}: {m}"
        )


def test_compile_runs_the_nets_through_torch_compile_with_the_same_numbers(digits):
    """compile=True: the encoder and decoder run as compiled graphs, and a step gives the eager
    step's loss and gradients to float rounding (the compiler fuses and reorders arithmetic)."""
    outs, grads = [], []
    for compile in (False, True):
        trainer = make_trainer(tiny_spec("vae"), digits, compile=compile)
        trainer.optimizers["loss"].step = lambda: None  # keep the weights: compare gradients
        torch.manual_seed(3)
        outs.append(trainer.train_step(digits.train.x[:32]).losses["loss"])
        grads.append({n: p.grad for n, p in trainer.model.named_parameters()})
        nets = (trainer.model.encoder, trainer.model.decoder)
        assert all(net._compiled_call_impl is not None for net in nets) == compile
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-5, atol=1e-6)
    for name, g in grads[0].items():
        torch.testing.assert_close(g, grads[1][name], rtol=1e-4, atol=1e-6)
