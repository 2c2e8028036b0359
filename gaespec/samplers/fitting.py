"""Fitting a sampler's density model on codes: Adam on minibatches of a loss averaged over codes,
the best epoch chosen on a held-out part of the codes, with early stopping.

The defaults are those Pythae's samplers train with (its BaseTrainerConfig: Adam, 100 epochs,
batches of 64, learning rate 1e-4, the best epoch on evaluation data when there is some). Randomness
(the split, the batches) comes from torch's global RNG: a caller seeds it with `private_rng`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from gaespec.errors import SamplerError
from gaespec.samplers import options
from gaespec.samplers.base import Sampler, private_rng

EVALUATION_BATCH = 1024  # codes per batch of the held-out loss, which takes no gradients


@dataclass(frozen=True)
class Fitting:
    """How a density model is fitted on codes.

    Attributes:
        epochs: passes over the training codes, at most (Pythae: 100).
        lr: Adam's learning rate (Pythae: 1e-4).
        batch_size: codes per step (Pythae: 64).
        validation: the fraction of the codes held out to choose the best epoch; 0 keeps the last.
        patience: epochs without a better held-out loss before stopping; 0 never stops early.
    """

    epochs: int = 100
    lr: float = 1e-4
    batch_size: int = 64
    validation: float = 0.1
    patience: int = 10

    @classmethod
    def checked(cls, sampler: str, **values) -> Fitting:
        """The fitting options of sampler `sampler`, each checked; a bad one raises SamplerError."""
        return cls(
            epochs=options.positive_int(sampler, "epochs", values["epochs"]),
            lr=options.positive_number(sampler, "lr", values["lr"]),
            batch_size=options.positive_int(sampler, "batch_size", values["batch_size"]),
            validation=options.fraction(sampler, "validation", values["validation"]),
            patience=options.whole_number(sampler, "patience", values["patience"]),
        )


def check_codes(sampler: str, codes: torch.Tensor, at_least: int = 1) -> None:
    """Refuse codes (n d) that are too few or not finite."""
    if len(codes) < at_least:
        raise SamplerError(
            f"the {sampler} sampler needs at least {at_least} training "
            f"code{'s' if at_least > 1 else ''}, got {len(codes)}",
            fix="pass more training images",
        )
    if not torch.isfinite(codes).all():
        raise SamplerError(
            f"the {sampler} sampler cannot fit non-finite training codes (NaN or inf)",
            fix="check the model's encoder on this data",
        )


def split(sampler: str, codes: torch.Tensor, validation: float) -> tuple[torch.Tensor, ...]:
    """(training codes, held-out codes) drawn at random: a `validation` fraction held out."""
    n = len(codes)
    held = round(n * validation)
    if validation and not 1 <= held < n:
        raise SamplerError(
            f"the {sampler} sampler cannot hold out {validation} of {n} training codes and keep "
            "both parts non-empty",
            fix="pass more training images, or validation=0",
        )
    order = torch.randperm(n).to(codes.device)
    return codes[order[held:]], codes[order[:held]]


def _mean_loss(loss: Callable[[torch.Tensor], torch.Tensor], codes: torch.Tensor) -> float:
    # the same noise every epoch (a stochastic loss, e.g. an ELBO): epochs differ by their weights
    with torch.no_grad(), private_rng(0, codes.device):
        total = sum(loss(batch).item() * len(batch) for batch in codes.split(EVALUATION_BATCH))
    return total / len(codes)


def fit_by_loss(
    sampler: str,
    module: nn.Module,
    loss: Callable[[torch.Tensor], torch.Tensor],
    codes: torch.Tensor,
    fitting: Fitting,
) -> dict:
    """Minimise loss(batch), a mean over the batch's codes, by Adam over `module`'s parameters;
    the module ends with its best held-out epoch's weights. Returns what happened (JSON values)."""
    check_codes(sampler, codes, at_least=2 if fitting.validation else 1)
    train, held_out = split(sampler, codes, fitting.validation)
    optimizer = torch.optim.Adam(module.parameters(), lr=fitting.lr)
    best_loss, best_epoch, best_weights = math.inf, 0, None
    module.train()
    for epoch in range(1, fitting.epochs + 1):
        total = 0.0
        for index in torch.randperm(len(train)).to(codes.device).split(fitting.batch_size):
            optimizer.zero_grad()
            value = loss(train[index])
            if not torch.isfinite(value):
                raise SamplerError(
                    f"the {sampler} sampler's fit diverged: its loss is {value.item()} in "
                    f"epoch {epoch}",
                    fix=f"a smaller lr than {fitting.lr}",
                )
            value.backward()
            optimizer.step()
            total += value.item() * len(index)
        train_loss = total / len(train)
        if not len(held_out):
            continue
        module.eval()
        held_out_loss = _mean_loss(loss, held_out)
        module.train()
        if held_out_loss < best_loss:
            best_loss, best_epoch = held_out_loss, epoch
            best_weights = {k: v.detach().clone() for k, v in module.state_dict().items()}
        elif fitting.patience and epoch - best_epoch >= fitting.patience:
            break
    if best_weights is not None:
        module.load_state_dict(best_weights)
    module.eval()
    return {
        "epochs_run": epoch,
        "best_epoch": best_epoch if len(held_out) else epoch,
        "train_loss": train_loss,
        "held_out_loss": best_loss if math.isfinite(best_loss) else None,
        "codes": len(train),
        "held_out_codes": len(held_out),
    }


class FittedByGradient(Sampler):
    """Base of the samplers whose density model `fit_by_loss` fits (maf, iaf, two_stage): the
    options they share, checked in one place, and the device their model runs on."""

    def set_fitting(
        self,
        *,
        epochs: int,
        lr: float,
        batch_size: int,
        validation: float,
        patience: int,
        embedding: str,
        seed: int,
        device: str | None,
    ) -> None:
        """Check and keep the shared options (see Fitting for the first five)."""
        self.fitting = Fitting.checked(
            self.name,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            validation=validation,
            patience=patience,
        )
        f = self.fitting
        self.epochs, self.lr, self.batch_size = f.epochs, f.lr, f.batch_size
        self.validation, self.patience = f.validation, f.patience
        self.embedding = options.embedding(self.name, embedding)
        self.seed = options.seed(self.name, seed)
        self.device = options.device(self.name, device)

    def placed(self, fallback: torch.device) -> torch.device:
        """The device option's device, else `fallback` (the codes' or the model's)."""
        return torch.device(self.device) if self.device is not None else fallback
