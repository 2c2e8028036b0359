"""Fitting a density model on codes: the held-out split, the best epoch, early stopping."""

import pytest
import torch
from torch import nn

from gaespec.errors import SamplerError
from gaespec.samplers.base import private_rng
from gaespec.samplers.fitting import Fitting, _mean_loss, check_codes, fit_by_loss, split


class Centre(nn.Module):
    """One parameter c; the loss of codes z is mean((z − c)²), least at their mean."""

    def __init__(self):
        super().__init__()
        self.c = nn.Parameter(torch.zeros(()))

    def loss(self, z: torch.Tensor) -> torch.Tensor:
        return ((z - self.c) ** 2).mean()


def test_the_split_holds_out_a_fraction_at_random_and_keeps_every_code():
    codes = torch.arange(50.0)[:, None]
    with private_rng(0):
        train, held_out = split("maf", codes, 0.2)
    assert (len(train), len(held_out)) == (40, 10)
    assert sorted(torch.cat([train, held_out]).flatten().tolist()) == list(range(50))
    assert held_out.flatten().tolist() != list(range(10))  # at random, not the first ten
    assert len(split("maf", codes, 0.0)[1]) == 0


def test_too_few_codes_to_hold_some_out():
    with pytest.raises(SamplerError) as e:
        split("maf", torch.zeros(3, 2), 0.1)
    assert str(e.value) == (
        "the maf sampler cannot hold out 0.1 of 3 training codes and keep both parts non-empty; "
        "fix: pass more training images, or validation=0"
    )


def test_the_module_ends_with_its_best_held_out_epoch_and_stops_after_patience():
    torch.manual_seed(0)
    codes = torch.randn(100, 1) + 3.0
    model = Centre()
    # lr 2.5 makes Adam overshoot the minimum and oscillate: the best epoch is not the last
    fitting = Fitting(epochs=40, lr=2.5, batch_size=100, validation=0.2, patience=5)
    with private_rng(1):
        report = fit_by_loss("maf", model, model.loss, codes, fitting)
    with private_rng(1):
        _, held_out = split("maf", codes, 0.2)  # the same draw as fit_by_loss's first
    assert report["epochs_run"] == report["best_epoch"] + 5 < 40
    assert _mean_loss(model.loss, held_out) == report["held_out_loss"]  # the best epoch's weights
    assert (report["codes"], report["held_out_codes"]) == (80, 20)


def test_patience_zero_runs_every_epoch_and_no_validation_keeps_the_last():
    codes = torch.randn(64, 1)
    model = Centre()
    with private_rng(0):
        report = fit_by_loss("maf", model, model.loss, codes, Fitting(epochs=7, validation=0))
    assert report["epochs_run"] == report["best_epoch"] == 7
    assert report["held_out_loss"] is None
    fitting = Fitting(epochs=9, lr=2.5, validation=0.25, patience=0)
    with private_rng(0):
        assert fit_by_loss("maf", Centre(), Centre().loss, codes, fitting)["epochs_run"] == 9


def test_a_diverging_fit_says_so():
    model = Centre()
    with pytest.raises(SamplerError) as e:
        fit_by_loss("iaf", model, lambda z: model.c - float("inf"), torch.zeros(8, 1), Fitting())
    assert str(e.value) == (
        "the iaf sampler's fit diverged: its loss is -inf in epoch 1; fix: a smaller lr than 0.0001"
    )


def test_codes_that_cannot_be_fitted():
    with pytest.raises(SamplerError) as e:
        check_codes("two_stage", torch.zeros(0, 2))
    assert str(e.value) == (
        "the two_stage sampler needs at least 1 training code, got 0; "
        "fix: pass more training images"
    )
    with pytest.raises(SamplerError) as e:
        fit_by_loss("maf", Centre(), Centre().loss, torch.zeros(1, 1), Fitting())
    assert str(e.value) == (
        "the maf sampler needs at least 2 training codes, got 1; fix: pass more training images"
    )
    with pytest.raises(SamplerError) as e:
        check_codes("maf", torch.tensor([[0.0, float("nan")]]))
    assert str(e.value) == (
        "the maf sampler cannot fit non-finite training codes (NaN or inf); "
        "fix: check the model's encoder on this data"
    )
