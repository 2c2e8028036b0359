"""Reconstruction terms against hand loops over samples, inputs and pixels."""

from __future__ import annotations

import math

import pytest
import torch

from gaespec.components.reconstructions import ReconstructionTerm


def _term(likelihood: str, scale: float) -> ReconstructionTerm:
    return ReconstructionTerm(likelihood, scale)


def _data(k: int = 3, b: int = 4, shape=(2, 3, 3), seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, *shape, generator=g, dtype=torch.float64)
    x_hat = torch.rand(k, b, *shape, generator=g, dtype=torch.float64) * 0.98 + 0.01
    return x, x_hat


def _gaussian_by_hand(x, x_hat, scale):
    k, b = x_hat.shape[:2]
    out = [[0.0] * b for _ in range(k)]
    for i in range(k):
        for j in range(b):
            out[i][j] = scale * sum(
                (a - c) ** 2
                for a, c in zip(
                    x[j].flatten().tolist(), x_hat[i, j].flatten().tolist(), strict=True
                )
            )
    return torch.tensor(out, dtype=torch.float64)


def _bernoulli_by_hand(x, x_hat, scale):
    k, b = x_hat.shape[:2]
    out = [[0.0] * b for _ in range(k)]
    for i in range(k):
        for j in range(b):
            pairs = zip(x[j].flatten().tolist(), x_hat[i, j].flatten().tolist(), strict=True)
            out[i][j] = scale * sum(
                -(a * math.log(p) + (1 - a) * math.log(1 - p)) for a, p in pairs
            )
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_gaussian_is_scaled_sum_of_squares_per_sample(scale):
    x, x_hat = _data()
    term = _term("gaussian", scale)
    expected = _gaussian_by_hand(x, x_hat, scale)
    torch.testing.assert_close(term.per_sample(x, x_hat), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_bernoulli_is_scaled_cross_entropy_per_sample(scale):
    x, x_hat = _data(seed=1)
    x[0] = (x[0] > 0.5).double()  # binary and grey-level targets both
    term = _term("bernoulli", scale)
    expected = _bernoulli_by_hand(x, x_hat, scale)
    torch.testing.assert_close(term.per_sample(x, x_hat), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_term_averages_over_batch_and_samples(likelihood):
    x, x_hat = _data(k=5, b=6, seed=2)
    term = _term(likelihood, 0.5)
    by_hand = (_gaussian_by_hand if likelihood == "gaussian" else _bernoulli_by_hand)(x, x_hat, 0.5)
    expected = sum(sum(row) for row in by_hand.tolist()) / (5 * 6)
    value = term(x, x_hat)
    assert value.shape == ()
    assert value.item() == pytest.approx(expected, rel=1e-12)


def test_single_sample_equals_the_batch_mean():
    x, x_hat = _data(k=1, b=4, seed=3)
    value = _term("gaussian", 1.0)(x, x_hat)
    expected = ((x_hat[0] - x) ** 2).flatten(1).sum(1).mean()
    torch.testing.assert_close(value, expected, rtol=1e-12, atol=1e-12)
