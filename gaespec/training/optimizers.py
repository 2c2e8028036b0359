"""Optimisers and learning-rate schedulers by name, from `torch.optim`, with clear errors."""

from __future__ import annotations

import inspect

import torch

from gaespec.errors import TrainingError


def _classes(module, base: type) -> dict[str, type]:
    return {
        name.lower(): cls
        for name, cls in vars(module).items()
        if inspect.isclass(cls) and issubclass(cls, base) and cls is not base
    }


OPTIMIZERS = _classes(torch.optim, torch.optim.Optimizer)
SCHEDULERS = _classes(torch.optim.lr_scheduler, torch.optim.lr_scheduler.LRScheduler) | {
    "reducelronplateau": torch.optim.lr_scheduler.ReduceLROnPlateau
}


def _make(table: dict[str, type], what: str, name: str, key: str, *args, **kwargs):
    cls = table.get(name.lower())
    if cls is None:
        raise TrainingError(
            f"unknown {what} '{name}'", key=f"{key}.name", name=name.lower(), choices=table
        )
    accepted = [n for n in inspect.signature(cls).parameters if n not in ("self", "params")]
    for option in kwargs:
        if option not in accepted:
            raise TrainingError(
                f"{cls.__name__} has no option '{option}'",
                key=f"{key}.{option}",
                name=option,
                choices=accepted,
            )
    try:
        return cls(*args, **kwargs)
    except (TypeError, ValueError) as error:
        shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise TrainingError(f"{cls.__name__}({shown}) failed: {error}", key=key) from None


FUSED_DEVICES = ("cpu", "cuda")  # where torch's fused optimiser kernels run


def make_optimizer(spec, params, key: str) -> torch.optim.Optimizer:
    """The optimiser an objective names (Adam by default) over `params`.

    Where the optimiser has a fused kernel (Adam, AdamW, SGD, Adagrad) and the spec chose
    neither `fused` nor `foreach`, the fused one: the same update in one kernel per weight
    instead of a handful (about a third of a small net's step time on a CPU; benchmarks/perf.py).
    """
    params = list(params)
    options = dict(spec.options)
    cls = OPTIMIZERS.get(spec.name.lower())
    if (
        cls is not None
        and "fused" in inspect.signature(cls).parameters
        and not {"fused", "foreach"} & set(options)
        and all(p.device.type in FUSED_DEVICES and p.is_floating_point() for p in params)
    ):
        options["fused"] = True
    return _make(OPTIMIZERS, "optimizer", spec.name, key, params, lr=spec.lr, **options)


def make_scheduler(spec, optimizer, key: str):
    """The learning-rate scheduler an objective names, or None."""
    if spec is None:
        return None
    if spec.name.lower() == "reducelronplateau" and spec.interval == "step":
        raise TrainingError(
            "ReduceLROnPlateau watches the validation loss, which exists once per epoch",
            key=f"{key}.interval",
            fix='set interval = "epoch"',
        )
    return _make(SCHEDULERS, "scheduler", spec.name, key, optimizer, **spec.options)
