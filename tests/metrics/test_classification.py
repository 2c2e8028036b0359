import math

import numpy as np
import pytest
import torch
from latent_codes import blobs, message, random_codes, splits
from sklearn.linear_model import LogisticRegression
from tiny import StubModel
from torch import nn

from gaespec.errors import DataError
from gaespec.metrics.classification import (
    AccuracyRuns,
    classification_accuracy,
    classification_accuracy_from_codes,
    run_seeds,
    whitening,
)


def plain_run(z_train, y_train, z_test, y_test, *, seed, epochs, batch_size, lr):
    """One run written plainly: nn.Linear, one Adam, the test accuracy after every epoch."""
    mean, whiten = whitening(z_train)
    z_train, z_test = (z_train - mean) @ whiten, (z_test - mean) @ whiten
    d, k = z_train.shape[1], int(max(y_train.max(), y_test.max())) + 1
    g = torch.Generator().manual_seed(seed)
    layer = nn.Linear(d, k)
    with torch.no_grad():  # drawn in the order the metric draws them: weight (d k), then bias
        layer.weight.copy_(((torch.rand(d, k, generator=g) * 2 - 1) / math.sqrt(d)).T)
        layer.bias.copy_((torch.rand(k, generator=g) * 2 - 1) / math.sqrt(d))
    optimiser = torch.optim.Adam(layer.parameters(), lr=lr)
    accuracies = []
    for _ in range(epochs):
        for index in torch.randperm(len(z_train), generator=g).split(batch_size):
            loss = nn.functional.cross_entropy(layer(z_train[index]), y_train[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            accuracies.append(int((layer(z_test).argmax(1) == y_test).sum()) / len(y_test))
    return accuracies


def test_whitening_gives_identity_covariance_and_drops_constant_directions():
    g = torch.Generator().manual_seed(13)
    mixing = torch.tensor([[3.0, 0.0, 0.0], [2.0, 0.5, 0.0], [-1.0, 0.2, 0.01]])
    z = torch.randn(500, 3, generator=g) @ mixing + torch.tensor([5.0, -2.0, 0.0])
    z = torch.cat([z, torch.full((500, 1), 7.0)], dim=1)  # a fourth dimension that never varies
    mean, whiten = whitening(z)
    assert mean.shape == (4,) and whiten.shape == (4, 3)
    white = ((z - mean) @ whiten).double().numpy()
    np.testing.assert_allclose(white.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(np.cov(white.T, ddof=0), np.eye(3), atol=1e-4)
    assert whitening(torch.ones(10, 2))[1].shape == (2, 0)


def test_separable_codes_give_accuracy_one_in_every_run():
    z_train, y_train = blobs(40, classes=4, dim=6, spread=0.1, seed=0)
    z_test, y_test = blobs(25, classes=4, dim=6, spread=0.1, seed=1)
    result = classification_accuracy_from_codes(z_train, y_train, z_test, y_test, runs=5)
    assert result.accuracies == (1.0,) * 5
    assert (result.mean, result.std, result.runs, result.images) == (1.0, 0.0, 5, 100)


def test_random_codes_give_chance():
    # 2,000 test labels: one run's accuracy has a standard error √(¼·¾/2000) ≈ 0.01 around ¼
    z_train, y_train = random_codes(2000, classes=4, dim=8, seed=2)
    z_test, y_test = random_codes(2000, classes=4, dim=8, seed=3)
    result = classification_accuracy_from_codes(z_train, y_train, z_test, y_test, runs=3)
    assert abs(result.mean - 0.25) < 0.04


def test_converges_to_sklearns_logistic_regression():
    # overlapping classes (centres 10 apart, spread 6): the best linear rule errs often
    z_train, y_train = blobs(200, classes=3, dim=3, spread=6.0, seed=4)
    z_test, y_test = blobs(200, classes=3, dim=3, spread=6.0, seed=5)
    reference = LogisticRegression(C=1e6, max_iter=10_000).fit(z_train.numpy(), y_train.numpy())
    expected = reference.score(z_test.numpy(), y_test.numpy())
    assert 0.6 < expected < 0.9
    result = classification_accuracy_from_codes(z_train, y_train, z_test, y_test, runs=4)
    # 600 test codes: 0.015 is 9 codes
    assert abs(result.mean - expected) < 0.015


def test_each_run_equals_a_plain_single_run_with_its_seed():
    z_train, y_train = blobs(30, classes=3, dim=3, spread=6.0, seed=6)
    z_test, y_test = blobs(30, classes=3, dim=3, spread=6.0, seed=7)
    options = dict(epochs=7, batch_size=16, learning_rate=0.05)
    result = classification_accuracy_from_codes(
        z_train, y_train, z_test, y_test, runs=3, seed=8, **options
    )
    lr = options.pop("learning_rate")
    for run, run_seed in enumerate(run_seeds(8, 3)):
        plain = plain_run(z_train, y_train, z_test, y_test, seed=run_seed, lr=lr, **options)
        assert result.accuracies[run] == plain[-1]
    # selecting on the test codes themselves keeps each run's best epoch
    selected = classification_accuracy_from_codes(
        z_train,
        y_train,
        z_test,
        y_test,
        z_validation=z_test,
        y_validation=y_test,
        runs=3,
        seed=8,
        learning_rate=lr,
        **options,
    )
    for run, run_seed in enumerate(run_seeds(8, 3)):
        plain = plain_run(z_train, y_train, z_test, y_test, seed=run_seed, lr=lr, **options)
        assert selected.accuracies[run] == max(plain)


def test_codes_that_never_vary_predict_the_most_frequent_training_class():
    # only the bias learns: 10 batches × 50 epochs of Adam at 1e-2 move it from ±1 to the priors
    y_train = torch.tensor([2] * 600 + [0] * 300 + [1] * 100)
    y_test = torch.tensor([2, 2, 0, 1, 2])
    z = torch.full((1000, 3), 4.0)
    result = classification_accuracy_from_codes(z, y_train, z[:5], y_test, runs=3)
    assert result.accuracies == (3 / 5,) * 3


def test_mean_std_runs_and_seeds():
    z_train, y_train = random_codes(300, classes=3, dim=4, seed=9)
    z_test, y_test = random_codes(200, classes=3, dim=4, seed=10)
    result = classification_accuracy_from_codes(z_train, y_train, z_test, y_test, runs=4, epochs=3)
    assert isinstance(result, AccuracyRuns) and result.task == "classification"
    assert result.runs == len(result.accuracies) == 4
    assert result.mean == float(np.mean(result.accuracies))
    assert result.std == float(np.std(result.accuracies))
    assert result.images == 200 and result.seed == 0
    assert all(a * 200 == round(a * 200) for a in result.accuracies)  # correct / images
    again = classification_accuracy_from_codes(z_train, y_train, z_test, y_test, runs=4, epochs=3)
    assert again == result
    # run i has the same seed whatever the number of runs
    fewer = classification_accuracy_from_codes(z_train, y_train, z_test, y_test, runs=2, epochs=3)
    assert fewer.accuracies == result.accuracies[:2]
    other = classification_accuracy_from_codes(
        z_train, y_train, z_test, y_test, runs=4, epochs=3, seed=1
    )
    assert other.accuracies != result.accuracies
    assert str(result) == (
        f"classification accuracy {result.mean:.4f} ± {result.std:.4f} (4 runs, 200 test images)"
    )


def test_run_seeds_are_a_prefix_and_differ_between_seeds():
    assert run_seeds(3, 5)[:2] == run_seeds(3, 2)
    assert len(set(run_seeds(3, 5)) | set(run_seeds(4, 5))) == 10


def test_on_a_model_embeds_each_split_by_its_posterior_mean():
    z, y = blobs(30, classes=3, dim=2, spread=3.0, seed=11)
    train, validation, test = (z[0::3], y[0::3]), (z[1::3], y[1::3]), (z[2::3], y[2::3])
    model = StubModel().train()
    result = classification_accuracy(model, splits(z, y), runs=2, epochs=4)
    assert result == classification_accuracy_from_codes(*train, *test, runs=2, epochs=4)
    assert model.calls == [(30, False, False)] * 2 and model.training
    selected = classification_accuracy(
        StubModel(), splits(z, y), select_on_validation=True, runs=2, epochs=4
    )
    assert selected == classification_accuracy_from_codes(
        *train, *test, z_validation=validation[0], y_validation=validation[1], runs=2, epochs=4
    )
    on_validation = classification_accuracy(StubModel(), splits(z, y), split="validation", runs=2)
    assert on_validation == classification_accuracy_from_codes(*train, *validation, runs=2)


def test_bad_input_is_refused_with_a_clear_message():
    z, y = random_codes(20, classes=3, dim=4, seed=12)

    def run(z_train=z, y_train=y, z_test=z, y_test=y, **options):
        return lambda: classification_accuracy_from_codes(
            z_train, y_train, z_test, y_test, **options
        )

    assert message(run(y_train=y[:19])) == (
        "classification got 20 train codes but 19 train labels; fix: give one label per code"
    )
    assert message(run(z_test=z[:, 0])) == (
        "classification needs codes of shape (n, d), got test codes of shape (20,)"
    )
    assert message(run(z_train=z[:0], y_train=y[:0])) == (
        "classification needs at least one train code, got none"
    )
    assert message(run(y_test=y.float())) == (
        "classification needs integer class labels of shape (n,), got test labels of dtype "
        "torch.float32 and shape (20,)"
    )
    assert message(run(y_train=y - 1)) == (
        "classification needs class indices 0, 1, …, K-1, but the least train label is -1"
    )
    nan = z.clone()
    nan[3, 1] = float("nan")
    assert message(run(z_train=nan)) == (
        "classification cannot use non-finite train codes (NaN or inf); "
        "fix: check the model's encoder on this data"
    )
    assert message(run(z_test=z[:, :3])) == (
        "classification: the train codes have 4 dimensions but the test codes have 3"
    )
    assert message(run(z_validation=z)) == (
        "classification got validation codes without validation labels; "
        "fix: pass both z_validation and y_validation, or neither"
    )
    assert message(run(z_validation=z[:, :2], y_validation=y)) == (
        "classification: the train codes have 4 dimensions but the validation codes have 2"
    )
    assert message(run(y_train=torch.full((20,), 2))) == (
        "classification needs at least two classes among the train labels, but every train "
        "label is 2"
    )
    assert message(run(runs=0)) == "runs must be an integer ≥ 1, got 0"
    assert message(run(epochs=2.0)) == "epochs must be an integer ≥ 1, got 2.0"
    assert message(run(batch_size=True)) == "batch_size must be an integer ≥ 1, got True"
    assert message(run(learning_rate=0)) == "the learning rate must be positive, got 0"
    assert message(run(seed=-1)) == "the seed must be an integer ≥ 0, got -1"
    data = splits(z, y)
    assert message(lambda: classification_accuracy(StubModel(), data, split="train")) == (
        "classification is measured on the test or the validation split, not 'train'"
    )

    def circular():
        classification_accuracy(StubModel(), data, split="validation", select_on_validation=True)

    assert message(circular) == (
        "classification cannot choose epochs on the validation split and be measured on it; "
        "fix: measure on split='test', or pass select_on_validation=False"
    )
    with pytest.raises(DataError) as e:
        classification_accuracy(StubModel(), splits(z, None, source="x.npy"))
    assert str(e.value) == (
        "data 'x.npy' has no labels: classification needs the class of each image; fix: use a "
        "labelled source (mnist5k, sklearn_digits, mnist:DIR) or call "
        "classification_accuracy_from_codes with your own labels"
    )
