"""Task 3 of the Pythae study (Chadebec et al. 2022, arXiv:2206.08309): linear classifiers on codes.

One linear layer (multinomial logistic regression) is trained on the posterior means of the
training images with cross-entropy and Adam, 20 times from 20 seeds; the study reports the mean
and the standard deviation of its test accuracy. Also the pieces that the clustering task shares:
the result of repeated runs, the seeds of the runs, and the checks of codes and labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from einops import einsum, rearrange
from torch import nn

from gaespec.data.splits import DataSplits
from gaespec.errors import DataError, GaespecError
from gaespec.samplers.base import embed

RUNS = 20  # the study's number of classification runs
# Adam's learning rate and the epochs are ours (the study gives neither): on the whitened 16-d
# codes of mnist5k's 3,500 training digits (a 16-d AE's, and PCA's), 50 epochs at 1e-2 come within
# 0.005 of the test accuracy of a logistic regression fitted to convergence (sklearn's lbfgs,
# unregularised): 0.846 against 0.851, 0.835 against 0.834; 3 seconds for 20 runs on one core
EPOCHS = 50
LEARNING_RATE = 1e-2
BATCH_SIZE = 100  # Pythae's batch size for MNIST, CIFAR-10 and CelebA (base_training_config.json)
MEASURED = ("test", "validation")  # the splits a task reports on: figures, model selection


def check_count(value: int, what: str, least: int = 1) -> int:
    """`value` if it is an integer ≥ `least`; else GaespecError naming `what`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
        raise GaespecError(f"{what} must be an integer ≥ {least}, got {value!r}")
    return int(value)


def run_seeds(seed: int, runs: int) -> list[int]:
    """One seed per run, drawn from numpy's SeedSequence(seed): run i gets the same seed
    whatever the number of runs, and the streams of different seeds do not overlap."""
    check_count(seed, "the seed", least=0)
    return [int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(runs)]


def labelled_codes(
    codes: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray,
    *,
    task: str,
    split: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Codes (n d) as float32 and labels (n) as int64 class indices, on the CPU; else DataError."""
    codes, labels = torch.as_tensor(codes), torch.as_tensor(labels)
    if codes.dim() != 2:
        raise DataError(
            f"{task} needs codes of shape (n, d), got {split} codes of shape {tuple(codes.shape)}"
        )
    if len(codes) == 0:
        raise DataError(f"{task} needs at least one {split} code, got none")
    if labels.dim() != 1 or labels.dtype.is_floating_point or labels.dtype.is_complex:
        raise DataError(
            f"{task} needs integer class labels of shape (n,), got {split} labels of dtype "
            f"{labels.dtype} and shape {tuple(labels.shape)}"
        )
    if len(labels) != len(codes):
        raise DataError(
            f"{task} got {len(codes)} {split} codes but {len(labels)} {split} labels",
            fix="give one label per code",
        )
    if labels.min() < 0:
        raise DataError(
            f"{task} needs class indices 0, 1, …, K-1, but the least {split} label is "
            f"{int(labels.min())}"
        )
    if not torch.isfinite(codes).all():
        raise DataError(
            f"{task} cannot use non-finite {split} codes (NaN or inf)",
            fix="check the model's encoder on this data",
        )
    return codes.detach().to("cpu", torch.float32), labels.to("cpu", torch.int64)


def same_dimension(train: torch.Tensor, other: torch.Tensor, *, task: str, split: str) -> None:
    """Raise DataError unless the codes of `split` have as many dimensions as the training codes."""
    if other.shape[1] != train.shape[1]:
        raise DataError(
            f"{task}: the train codes have {train.shape[1]} dimensions but the {split} codes "
            f"have {other.shape[1]}"
        )


def measured_split(split: str, task: str) -> str:
    """`split` if a task may be measured on it (test, or validation to select a configuration)."""
    if split not in MEASURED:
        raise GaespecError(
            f"{task} is measured on the test or the validation split, not {split!r}",
            name=split,
            choices=MEASURED,
        )
    return split


def split_labels(data: DataSplits, split: str, task: str) -> torch.Tensor:
    """The labels of `data`'s split `split`; DataError when the source has none."""
    labels = getattr(data, split).y
    if labels is None:
        raise DataError(
            f"data {data.source!r} has no labels: {task} needs the class of each image",
            fix=f"use a labelled source (mnist5k, sklearn_digits, mnist:DIR) or call "
            f"{task}_accuracy_from_codes with your own labels",
        )
    return labels


@dataclass(frozen=True)
class AccuracyRuns:
    """Test accuracies of repeated seeded runs of one task, with their mean and spread.

    Attributes:
        task: "classification" or "clustering".
        accuracies: the test accuracy of each run (correct / images), in run order.
        images: the number of test codes each accuracy is measured on.
        seed: the seed the runs' seeds were drawn from (`run_seeds`).
        runs: the number of runs, len(accuracies).
        mean: numpy's mean of the accuracies.
        std: numpy's standard deviation of the accuracies (ddof=0).
    """

    task: str
    accuracies: tuple[float, ...]
    images: int
    seed: int
    runs: int = field(init=False)
    mean: float = field(init=False)
    std: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "accuracies", tuple(float(a) for a in self.accuracies))
        object.__setattr__(self, "runs", len(self.accuracies))
        object.__setattr__(self, "mean", float(np.mean(self.accuracies)))
        object.__setattr__(self, "std", float(np.std(self.accuracies)))

    def __str__(self) -> str:
        return (
            f"{self.task} accuracy {self.mean:.4f} ± {self.std:.4f} "
            f"({self.runs} runs, {self.images} test images)"
        )


def whitening(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean (d) and a map (d e) under which the codes (n d) have identity covariance:
    (z − mean) @ map, PCA whitening; directions of no variance (relative to float32's precision)
    are dropped, so e ≤ d."""
    z = codes.to(torch.float64)
    covariance = torch.atleast_2d(torch.cov(z.T, correction=0))  # (d d)
    variances, directions = torch.linalg.eigh(covariance)
    keep = variances > variances.max() * len(variances) * torch.finfo(torch.float32).eps
    whiten = directions[:, keep] / variances[keep].sqrt()
    return z.mean(0).to(torch.float32), whiten.to(torch.float32)


def _correct(weight: torch.Tensor, bias: torch.Tensor, z: torch.Tensor, y: torch.Tensor):
    """The number of codes z (n d) that each run's layer (r d k), (r k) classifies as y (n): (r)."""
    logits = einsum(z, weight, "n d, r d k -> r n k") + rearrange(bias, "r k -> r 1 k")
    return (logits.argmax(-1) == y).sum(1)


def _trained_layers(
    z_train: torch.Tensor,
    y_train: torch.Tensor,
    k: int,
    generators: list[torch.Generator],
    epochs: int,
    batch_size: int,
    learning_rate: float,
    validation: tuple[torch.Tensor, torch.Tensor] | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One linear layer per generator, trained on z_train (n d) for y_train (n) in k classes:
    weights (r d k) and biases (r k) of the last epoch, or of each run's best validation epoch."""
    n, d, runs = len(z_train), z_train.shape[1], len(generators)
    bound = 1 / math.sqrt(max(d, 1))  # no direction left: codes that are all the same
    weight = torch.stack([(torch.rand(d, k, generator=g) * 2 - 1) * bound for g in generators])
    bias = torch.stack([(torch.rand(k, generator=g) * 2 - 1) * bound for g in generators])
    weight, bias = nn.Parameter(weight), nn.Parameter(bias)
    optimiser = torch.optim.Adam([weight, bias], lr=learning_rate)
    kept_weight, kept_bias = weight.detach().clone(), bias.detach().clone()
    kept_correct = torch.full((runs,), -1)
    for _ in range(epochs):
        order = torch.stack([torch.randperm(n, generator=g) for g in generators])  # (r n)
        for index in order.split(batch_size, dim=1):  # (r b)
            logits = einsum(z_train[index], weight, "r b d, r d k -> r b k")
            logits = logits + rearrange(bias, "r k -> r 1 k")
            # all runs train at once: the sum of their mean losses gives each run its own
            # gradient, and Adam updates each weight from its own gradient alone
            flat = rearrange(logits, "r b k -> (r b) k")
            loss = F.cross_entropy(flat, y_train[index].flatten(), reduction="sum") / len(index[0])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        if validation is not None:
            with torch.no_grad():
                correct = _correct(weight, bias, *validation)
                better = correct > kept_correct
                kept_weight[better], kept_bias[better] = weight[better], bias[better]
                kept_correct = torch.where(better, correct, kept_correct)
    if validation is None:
        return weight.detach(), bias.detach()
    return kept_weight, kept_bias


def classification_accuracy_from_codes(
    z_train: torch.Tensor | np.ndarray,
    y_train: torch.Tensor | np.ndarray,
    z_test: torch.Tensor | np.ndarray,
    y_test: torch.Tensor | np.ndarray,
    *,
    z_validation: torch.Tensor | np.ndarray | None = None,
    y_validation: torch.Tensor | np.ndarray | None = None,
    runs: int = RUNS,
    epochs: int = EPOCHS,
    batch_size: int = BATCH_SIZE,
    learning_rate: float = LEARNING_RATE,
    seed: int = 0,
) -> AccuracyRuns:
    """Test accuracy of a linear layer trained on the codes z_train (n d), `runs` times.

    Each run draws its own initial weights (torch.nn.Linear's uniform ±1/√d) and batch order
    from its own seed (`run_seeds`) and minimises the mean cross-entropy with Adam for `epochs`
    epochs. With validation codes, each run keeps the weights of its epoch of highest validation
    accuracy (the earliest of equals), an early stop on held-out codes; without, those of its
    last epoch. The layer is trained on codes whitened by the training codes'
    mean and covariance (`whitening`): the same family of classifiers, better conditioned.
    The same arguments give the same numbers (on the CPU, in float32).
    """
    task = "classification"
    z_train, y_train = labelled_codes(z_train, y_train, task=task, split="train")
    z_test, y_test = labelled_codes(z_test, y_test, task=task, split="test")
    same_dimension(z_train, z_test, task=task, split="test")
    if (z_validation is None) != (y_validation is None):
        raise DataError(
            f"{task} got validation {'codes' if y_validation is None else 'labels'} without "
            f"validation {'labels' if y_validation is None else 'codes'}",
            fix="pass both z_validation and y_validation, or neither",
        )
    select = z_validation is not None
    if select:
        z_validation, y_validation = labelled_codes(
            z_validation, y_validation, task=task, split="validation"
        )
        same_dimension(z_train, z_validation, task=task, split="validation")
    runs, epochs = check_count(runs, "runs"), check_count(epochs, "epochs")
    batch_size = check_count(batch_size, "batch_size")
    if not learning_rate > 0:
        raise GaespecError(f"the learning rate must be positive, got {learning_rate!r}")
    if len(torch.unique(y_train)) < 2:
        raise DataError(
            f"{task} needs at least two classes among the train labels, but every train "
            f"label is {int(y_train[0])}"
        )
    # an affine map of the codes leaves the family of linear classifiers unchanged; in whitened
    # coordinates one learning rate and one number of epochs fit the codes of any model, whatever
    # the scale and the correlations of its latent space
    mean, whiten = whitening(z_train)
    z_train, z_test = (z_train - mean) @ whiten, (z_test - mean) @ whiten
    if select:
        z_validation = (z_validation - mean) @ whiten
    labels = [y_train, y_test] + ([y_validation] if select else [])
    k = int(max(y.max() for y in labels)) + 1

    generators = [torch.Generator().manual_seed(s) for s in run_seeds(seed, runs)]
    validation = (z_validation, y_validation) if select else None
    weight, bias = _trained_layers(
        z_train, y_train, k, generators, epochs, batch_size, learning_rate, validation
    )
    with torch.no_grad():
        correct = _correct(weight, bias, z_test, y_test)
    return AccuracyRuns(task, [int(c) / len(y_test) for c in correct], len(y_test), seed)


def classification_accuracy(
    model: nn.Module,
    data: DataSplits,
    *,
    split: str = "test",
    select_on_validation: bool = False,
    runs: int = RUNS,
    epochs: int = EPOCHS,
    batch_size: int = BATCH_SIZE,
    learning_rate: float = LEARNING_RATE,
    seed: int = 0,
) -> AccuracyRuns:
    """Task 3 on a model: linear layers trained on the posterior means of data's train split,
    measured on its `split` (test; validation to select a configuration), each run's epoch
    chosen on the validation split if `select_on_validation`, else its last."""
    task = "classification"
    measured_split(split, task)
    if select_on_validation and split == "validation":
        raise GaespecError(
            f"{task} cannot choose epochs on the validation split and be measured on it",
            fix="measure on split='test', or pass select_on_validation=False",
        )
    y_train, y_measured = split_labels(data, "train", task), split_labels(data, split, task)
    validation = {}
    if select_on_validation:
        validation = {
            "z_validation": embed(model, data.validation.x),
            "y_validation": split_labels(data, "validation", task),
        }
    return classification_accuracy_from_codes(
        embed(model, data.train.x),
        y_train,
        embed(model, getattr(data, split).x),
        y_measured,
        **validation,
        runs=runs,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
    )
