from collections import Counter

import numpy as np
import pytest
import torch
from latent_codes import blobs, message, random_codes, splits
from sklearn.cluster import KMeans
from tiny import StubModel

from gaespec.errors import DataError
from gaespec.metrics.classification import run_seeds
from gaespec.metrics.clustering import (
    clustering_accuracy,
    clustering_accuracy_from_codes,
    majority_labels,
)


def test_separable_codes_give_accuracy_one_in_every_run():
    # centres 10 apart, spread 0.1: k-means++ puts one first centre in each blob
    z_train, y_train = blobs(50, classes=5, dim=5, spread=0.1, seed=0)
    z_test, y_test = blobs(20, classes=5, dim=5, spread=0.1, seed=1)
    result = clustering_accuracy_from_codes(z_train, y_train, z_test, y_test, runs=20)
    assert result.accuracies == (1.0,) * 20
    assert (result.mean, result.std, result.runs, result.images) == (1.0, 0.0, 20, 100)


def test_random_codes_give_chance():
    # 2,000 test labels: one run's accuracy has a standard error √(¼·¾/2000) ≈ 0.01 around ¼
    z_train, y_train = random_codes(2000, classes=4, dim=8, seed=2)
    z_test, y_test = random_codes(2000, classes=4, dim=8, seed=3)
    result = clustering_accuracy_from_codes(z_train, y_train, z_test, y_test, runs=5)
    assert abs(result.mean - 0.25) < 0.04


def test_majority_labels_by_hand():
    assignments = np.array([0, 0, 1, 1, 1, 2, 3, 3])
    labels = np.array([3, 3, 1, 2, 2, 0, 2, 1])
    # cluster 3 ties between 1 and 2: the smaller wins; cluster 4 has no member
    assert majority_labels(assignments, labels, 5).tolist() == [3, 2, 0, 1, -1]


def test_a_hand_made_case_with_a_known_accuracy():
    # three clumps on a line; the clumps' majorities are 1, 2 and 0
    z_train = torch.tensor([[0.0], [0.1], [0.2], [10.0], [10.1], [20.0]])
    y_train = torch.tensor([1, 1, 0, 2, 2, 0])
    # nearest centres: 0.1 (named 1), 20 (named 0), 10.05 (named 2)
    z_test = torch.tensor([[0.05], [19.0], [9.0]])
    y_test = torch.tensor([1, 0, 1])
    result = clustering_accuracy_from_codes(z_train, y_train, z_test, y_test, runs=10)
    assert result.accuracies == (2 / 3,) * 10


def test_each_run_equals_sklearn_with_its_seed_and_a_counted_majority():
    # codes without clumps, so that k-means' one start decides its clusters (here each run's
    # accuracy differs from that of the best of three starts), labelled by their quadrant
    def codes(n, seed):
        z = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))
        return z, (z[:, 0] > 0).long() + (z[:, 1] > 0).long()

    (z_train, y_train), (z_test, y_test) = codes(120, seed=4), codes(60, seed=5)
    result = clustering_accuracy_from_codes(
        z_train, y_train, z_test, y_test, clusters=5, runs=3, seed=2
    )
    for run, run_seed in enumerate(run_seeds(2, 3)):
        kmeans = KMeans(n_clusters=5, n_init=1, random_state=run_seed).fit(z_train.double())
        name = {}
        for cluster in range(5):
            members = y_train[torch.from_numpy(kmeans.labels_ == cluster)].tolist()
            counts = Counter(members).most_common()
            name[cluster] = min(label for label, c in counts if c == counts[0][1])
        nearest = torch.cdist(z_test.double(), torch.from_numpy(kmeans.cluster_centers_)).argmin(1)
        correct = sum(name[int(c)] == int(y) for c, y in zip(nearest, y_test, strict=True))
        assert result.accuracies[run] == correct / len(y_test)
    assert 0.5 < result.mean < 1  # neither chance nor perfect


def test_mean_std_runs_and_seeds():
    z_train, y_train = random_codes(300, classes=3, dim=4, seed=7)
    z_test, y_test = random_codes(200, classes=3, dim=4, seed=8)
    result = clustering_accuracy_from_codes(z_train, y_train, z_test, y_test, runs=6)
    assert result.task == "clustering" and result.runs == len(result.accuracies) == 6
    assert result.mean == float(np.mean(result.accuracies))
    assert result.std == float(np.std(result.accuracies))
    assert result.images == 200 and result.seed == 0
    assert clustering_accuracy_from_codes(z_train, y_train, z_test, y_test, runs=6) == result
    fewer = clustering_accuracy_from_codes(z_train, y_train, z_test, y_test, runs=2)
    assert fewer.accuracies == result.accuracies[:2]
    other = clustering_accuracy_from_codes(z_train, y_train, z_test, y_test, runs=6, seed=1)
    assert other.accuracies != result.accuracies


def test_the_number_of_clusters_defaults_to_the_training_classes():
    z_train, y_train = blobs(30, classes=3, dim=3, spread=0.1, seed=9)
    z_test, y_test = blobs(10, classes=3, dim=3, spread=0.1, seed=10)
    # two clusters for three blobs: one cluster holds two blobs and one name, so 2 of 3 right
    two = clustering_accuracy_from_codes(z_train, y_train, z_test, y_test, clusters=2, runs=3)
    assert two.accuracies == (2 / 3,) * 3
    three = clustering_accuracy_from_codes(z_train, y_train, z_test, y_test, runs=3)
    assert three.accuracies == (1.0,) * 3


def test_on_a_model_embeds_train_and_test_by_their_posterior_means():
    z, y = blobs(30, classes=3, dim=2, spread=3.0, seed=11)
    model = StubModel().train()
    result = clustering_accuracy(model, splits(z, y), runs=4)
    assert result == clustering_accuracy_from_codes(z[0::3], y[0::3], z[2::3], y[2::3], runs=4)
    assert model.calls == [(30, False, False)] * 2 and model.training
    on_validation = clustering_accuracy(StubModel(), splits(z, y), split="validation", runs=4)
    assert on_validation == clustering_accuracy_from_codes(
        z[0::3], y[0::3], z[1::3], y[1::3], runs=4
    )


def test_bad_input_is_refused_with_a_clear_message():
    z, y = random_codes(20, classes=3, dim=4, seed=12)

    def run(z_train=z, y_train=y, z_test=z, y_test=y, **options):
        return lambda: clustering_accuracy_from_codes(z_train, y_train, z_test, y_test, **options)

    assert message(run(y_test=y[:5])) == (
        "clustering got 20 test codes but 5 test labels; fix: give one label per code"
    )
    assert message(run(z_test=z[:, :2])) == (
        "clustering: the train codes have 4 dimensions but the test codes have 2"
    )
    assert message(run(z_train=z[:2], y_train=torch.tensor([0, 1]), clusters=3)) == (
        "clustering needs at least 3 train codes to fit 3 clusters, got 2; "
        "fix: pass more training images or fewer clusters"
    )
    assert message(run(clusters=0)) == "clusters must be an integer ≥ 1, got 0"
    assert message(run(runs=-2)) == "runs must be an integer ≥ 1, got -2"
    assert message(lambda: clustering_accuracy(StubModel(), splits(z, y), split="tset")) == (
        "clustering is measured on the test or the validation split, not 'tset'; "
        "closest valid choice: 'test'"
    )
    with pytest.raises(DataError) as e:
        clustering_accuracy(StubModel(), splits(z, None, source="x.npy"))
    assert str(e.value) == (
        "data 'x.npy' has no labels: clustering needs the class of each image; fix: use a "
        "labelled source (mnist5k, sklearn_digits, mnist:DIR) or call "
        "clustering_accuracy_from_codes with your own labels"
    )
