"""The benchmark's three ways of training one model, each timed one epoch at a time.

(a) `trainer`: gaespec's composed model through gaespec's Trainer (its epoch order, data
    slicing, device copies, queued finiteness check and epoch means included);
(b) `emitted`: the standalone file `gaespec build` writes for the spec, stepped by a plain loop;
(c) `hand`: benchmarks/hand_written.py, the same model written by hand, stepped by the same loop.
(b) and (c) share `plain_epoch` (a shuffled order, a gathered batch, a copy to the device) and
`hand_written.step_objectives` (zero, backpropagate each objective, step).
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import inspect
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

import gaespec
from gaespec.data.splits import DataSplits, Split
from gaespec.graph.lower import lower
from gaespec.training.optimizers import make_optimizer
from gaespec.training.trainer import Trainer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import hand_written  # noqa: E402

NET_OVERRIDES = {
    "mnist_convnet": [],  # the specs' own net
    "mlp": ["encoder.arch=mlp", "decoder.arch=mlp"],
}


def spec_of(name: str, net: str, extra: list[str] = ()):
    """The built-in spec `name` on `net` (with --set style overrides `extra`)."""
    return gaespec.load_spec(
        ROOT / "specs" / "models" / f"{name}.toml", [*NET_OVERRIDES[net], *extra]
    )


@dataclass
class Column:
    """One way of training one model: `epoch()` trains one pass over `n` images.

    `snapshot()` keeps the weights and optimiser states as they are and `reset()` goes back to
    them: a benchmark resets every column before each timed epoch, so that each times the same
    stretch of training. (Trained for hundreds of epochs on the same few batches, an MLP
    autoencoder drives its sigmoid's inputs so far that its arithmetic meets denormal floats and
    slows by half or more, at a point that depends on each copy's path, not on the code.)
    """

    name: str
    epoch: Callable[[], None]
    n: int
    model: nn.Module
    step: Callable[[torch.Tensor], None]  # one step on a batch (for counting FLOPs)
    options: dict = field(default_factory=dict)
    optimizers: list = field(default_factory=list)  # (c) and (b): what `step` updates
    trainer: Trainer | None = None  # (a): its state holds the model's and optimisers'
    _kept: dict | None = field(default=None, repr=False)

    def snapshot(self) -> None:
        if self.trainer is not None:
            self._kept = copy.deepcopy(self.trainer.state_dict())
        else:
            self._kept = copy.deepcopy(
                {
                    "model": self.model.state_dict(),
                    "optimizers": [o.state_dict() for o in self.optimizers],
                }
            )

    def reset(self) -> None:
        if self._kept is None:
            return
        kept = copy.deepcopy(self._kept)  # loading may keep the very tensors it is given
        if self.trainer is not None:
            self.trainer.load_state_dict(kept)
            return
        self.model.load_state_dict(kept["model"])
        for optimizer, state in zip(self.optimizers, kept["optimizers"], strict=True):
            optimizer.load_state_dict(state)


def plain_epoch(step, x: torch.Tensor, batch_size: int, device: torch.device, seed: int) -> None:
    """What a hand-written loop does each epoch: shuffle, gather, copy, step."""
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    for index in torch.split(order, batch_size):
        step(x[index].to(device, non_blocking=True))


def trainer_column(
    name: str, net: str, x: torch.Tensor, batch_size: int, device: torch.device, **fast
) -> Column:
    """(a): gaespec's trainer; `fast` are [train] fast paths (precision, channels_last, compile)."""
    torch.manual_seed(0)
    graph = lower(spec_of(name, net))
    data = DataSplits("benchmark", Split(x, None), Split(x[:batch_size], None), Split(x[:1], None))
    trainer = Trainer(
        gaespec.build(graph),
        graph.objectives,
        data,
        batch_size=batch_size,
        device=device,
        progress=False,
        **fast,
    )
    tag = "trainer" + "".join(f"+{k}" for k, v in fast.items() if v not in (False, "fp32"))
    if fast.get("precision", "fp32") != "fp32":
        tag = tag.replace("+precision", f"+{fast['precision']}")
    return Column(
        tag, trainer.train_epoch, len(x), trainer.model, trainer.train_step, fast, trainer=trainer
    )


def _emitted_module(name: str, net: str, folder: Path):
    """The emitted file of (name, net): generated/<name>.py for the specs' own net, else written
    by gaespec's code generator into `folder`."""
    if net == "mnist_convnet":
        path = ROOT / "generated" / f"{name}.py"
    else:
        from gaespec.codegen import write

        (path,) = write([ROOT / "specs" / "models" / f"{name}.toml"], folder, NET_OVERRIDES[net])
    module_name = f"emitted_{name}_{net}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def emitted_column(
    name: str, net: str, x: torch.Tensor, batch_size: int, device: torch.device
) -> Column:
    """(b): the emitted standalone file, one optimiser per objective as the spec says."""
    with tempfile.TemporaryDirectory() as folder:
        module = _emitted_module(name, net, Path(folder))
    classes = [
        c
        for c in vars(module).values()
        if inspect.isclass(c) and issubclass(c, nn.Module) and hasattr(c, "parameter_groups")
    ]
    torch.manual_seed(0)
    model = classes[0]().to(device).train()
    graph = lower(spec_of(name, net))
    groups = model.parameter_groups()
    optimizers = [make_optimizer(o.optimizer, groups[o.name], o.key) for o in graph.objectives]
    names = [o.name for o in graph.objectives]
    accepted = inspect.signature(model.forward).parameters
    runtime = {"dataset_size": len(x)} if "dataset_size" in accepted else {}
    counter = {"step": 0, "epoch": 0}
    # stepped as the hand-written model is (hand_written.step_objectives); one objective that
    # trains every weight backpropagates without inputs= (the same gradients, without the
    # engine's walk to restrict them), as there and in gaespec's trainer
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    inputs = [
        None if len(names) == 1 and {id(p) for p in groups[n]} == trainable else groups[n]
        for n in names
    ]

    def step(xb: torch.Tensor) -> None:
        if "step" in accepted:
            runtime["step"] = counter["step"]
        losses = model(xb, **runtime).losses
        hand_written.step_objectives([losses[n] for n in names], optimizers, inputs)
        counter["step"] += 1

    def run_epoch() -> None:
        counter["epoch"] += 1
        plain_epoch(step, x, batch_size, device, seed=counter["epoch"])

    return Column("emitted", run_epoch, len(x), model, step, optimizers=optimizers)


def hand_column(
    name: str, net: str, x: torch.Tensor, batch_size: int, device: torch.device, **fast
) -> Column:
    """(c): the hand-written model and loop; `fast` as for (a), applied the way a person would
    (autocast around the forward pass, channels-last weights and batches, torch.compile)."""
    torch.manual_seed(0)
    written = hand_written.make(name, net, dataset_size=len(x))
    written.model.to(device)
    precision = fast.get("precision", "fp32")
    layout = torch.channels_last if fast.get("channels_last") else torch.contiguous_format
    written.model.to(memory_format=layout)
    if fast.get("compile"):
        for module in written.model.children():
            if any(True for _ in module.parameters()):
                module.compile()
    autocast = (
        (lambda: torch.autocast(device.type, dtype=torch.bfloat16))
        if precision == "bf16"
        else contextlib.nullcontext
    )

    def step(xb: torch.Tensor) -> None:
        with autocast():
            written.step(xb.contiguous(memory_format=layout))

    if precision == "fp32" and layout is torch.contiguous_format:
        step = written.step  # nothing to wrap: the plain loop as a person writes it

    counter = {"epoch": 0}

    def run_epoch() -> None:
        counter["epoch"] += 1
        plain_epoch(step, x, batch_size, device, seed=counter["epoch"])

    tag = "hand" + "".join(f"+{k}" for k, v in fast.items() if v not in (False, "fp32"))
    return Column(
        tag.replace("+precision", f"+{precision}"),
        run_epoch,
        len(x),
        written.model,
        step,
        optimizers=written.optimizers,
    )
