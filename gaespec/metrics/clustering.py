"""Task 4 of the Pythae study (Chadebec et al. 2022, arXiv:2206.08309): k-means on the codes.

Our reading of the study (its issue 14 here: "100 k-means runs on the training codes, accuracy by
each cluster's majority label, mean and standard deviation"): each run fits k-means with as many
clusters as classes on the posterior means of the training images, names each cluster by the
most frequent training label among its members, assigns each test code to its nearest centre and
predicts that centre's name; the accuracy on the test split is averaged over 100 runs. The codes
are clustered as they are (no standardisation): their geometry is what the task measures.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from gaespec.data.splits import DataSplits
from gaespec.errors import DataError
from gaespec.metrics.classification import (
    AccuracyRuns,
    check_count,
    labelled_codes,
    measured_split,
    run_seeds,
    same_dimension,
    split_labels,
)
from gaespec.samplers.base import embed

RUNS = 100  # the study's number of k-means runs


def majority_labels(assignments: np.ndarray, labels: np.ndarray, clusters: int) -> np.ndarray:
    """The most frequent of `labels` (n) among the members of each cluster, by the cluster index
    of each sample `assignments` (n): (clusters); the smallest on ties, -1 for an empty cluster."""
    counts = np.zeros((clusters, int(labels.max()) + 1), dtype=np.int64)
    np.add.at(counts, (assignments, labels), 1)
    majority = counts.argmax(1)
    majority[counts.sum(1) == 0] = -1  # a name no test label has: its codes count as wrong
    return majority


def clustering_accuracy_from_codes(
    z_train: torch.Tensor | np.ndarray,
    y_train: torch.Tensor | np.ndarray,
    z_test: torch.Tensor | np.ndarray,
    y_test: torch.Tensor | np.ndarray,
    *,
    clusters: int | None = None,
    runs: int = RUNS,
    seed: int = 0,
) -> AccuracyRuns:
    """Test accuracy of k-means fitted on z_train (n d), its clusters named by y_train, `runs`
    times: sklearn's KMeans (k-means++, n_init=1), each run with its own seed (`run_seeds`).

    `clusters` defaults to the number of distinct training labels.
    """
    from sklearn.cluster import KMeans

    task = "clustering"
    z_train, y_train = labelled_codes(z_train, y_train, task=task, split="train")
    z_test, y_test = labelled_codes(z_test, y_test, task=task, split="test")
    same_dimension(z_train, z_test, task=task, split="test")
    runs = check_count(runs, "runs")
    k = len(torch.unique(y_train)) if clusters is None else check_count(clusters, "clusters")
    if len(z_train) < k:
        raise DataError(
            f"{task} needs at least {k} train codes to fit {k} clusters, got {len(z_train)}",
            fix="pass more training images or fewer clusters",
        )
    # float64, as sklearn computes: the same codes give the same clusters on every machine
    train, test = (z.to(torch.float64).numpy() for z in (z_train, z_test))
    y_train, y_test = y_train.numpy(), y_test.numpy()
    accuracies = []
    for run_seed in run_seeds(seed, runs):
        kmeans = KMeans(n_clusters=k, n_init=1, random_state=run_seed).fit(train)
        names = majority_labels(kmeans.labels_, y_train, k)
        predicted = names[kmeans.predict(test)]
        accuracies.append(int((predicted == y_test).sum()) / len(y_test))
    return AccuracyRuns(task, accuracies, len(y_test), seed)


def clustering_accuracy(
    model: nn.Module,
    data: DataSplits,
    *,
    split: str = "test",
    clusters: int | None = None,
    runs: int = RUNS,
    seed: int = 0,
) -> AccuracyRuns:
    """Task 4 on a model: k-means on the posterior means of data's train split, measured on its
    `split` (test; validation to select a configuration)."""
    task = "clustering"
    measured_split(split, task)
    y_train, y_measured = split_labels(data, "train", task), split_labels(data, split, task)
    return clustering_accuracy_from_codes(
        embed(model, data.train.x),
        y_train,
        embed(model, getattr(data, split).x),
        y_measured,
        clusters=clusters,
        runs=runs,
        seed=seed,
    )
