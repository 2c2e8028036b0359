"""`train`: a spec and data in, a run directory out; resumable, writes from rank 0 only."""

from __future__ import annotations

import functools
import json
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file

from gaespec import __version__, nets
from gaespec import runs as layout
from gaespec.atomic import atomic_write, atomic_write_text, remove_temporaries
from gaespec.compose import build
from gaespec.data import DataSplits, load_data
from gaespec.errors import RunError, TrainingError
from gaespec.graph.lower import lower
from gaespec.spec.load import load_spec
from gaespec.spec.schema import Spec
from gaespec.spec.toml_writer import spec_toml
from gaespec.tracking import Tracker, attach, resolve_trackers
from gaespec.training import distributed
from gaespec.training.state import load_state, save_state
from gaespec.training.trainer import Trainer


@dataclass
class Run:
    """A finished (or resumed and finished) training run.

    Attributes:
        path: the run folder. model: the model as trained (last epoch's weights).
        metrics: one record per epoch, as in metrics.jsonl.
    """

    path: Path
    model: torch.nn.Module
    metrics: list[dict]
    data: DataSplits
    main: bool = True  # False on the ranks other than 0 of a distributed run


def resolved_toml(spec: Spec) -> str:
    """The resolved spec as TOML text (every default written out)."""
    header = f"# resolved by gaespec {__version__} from {spec.source}\n"
    return header + spec_toml(spec)


def data_range(spec: Spec) -> tuple[float, float, str] | None:
    """The value range the model's likelihood or output layer needs of the data, with the reason."""
    bernoulli = any(getattr(t, "likelihood", None) == "bernoulli" for t in spec.terms.values())
    if bernoulli:
        return 0.0, 1.0, "a bernoulli likelihood needs targets in [0, 1]"
    decoder = spec.decoder
    if (
        not nets.is_import_path(decoder.arch)
        and decoder.options.get("output", "sigmoid") == "sigmoid"
    ):
        return (
            0.0,
            1.0,
            f"the {decoder.arch} decoder ends in a sigmoid, so reconstructions lie in [0, 1]",
        )
    return None


def _device(name: str | None) -> str:
    """The device to train on: the one asked for, checked, or cuda when present, else cpu."""
    if name is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise TrainingError(
            f"unknown device '{name}'", key="--device", name=name, choices=["cpu", "cuda"]
        ) from None
    if device.type == "cuda" and (
        not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()
    ):
        raise TrainingError(
            f"device '{name}' is not available here", key="--device", fix="use --device cpu"
        )
    return str(device)


# what a resumed run's numbers depend on: change one, and the run no longer equals, bit for bit,
# a run never interrupted (thread counts split reductions; the CPU's vector width rounds math
# functions; libraries change kernels)
REPRODUCIBILITY = (
    "gaespec",
    "python",
    "torch",
    "numpy",
    "device",
    "device_name",
    "cpu",
    "cpu_capability",
    "threads",
)


def _cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what the platform module says."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _environment(seed: int, device: str) -> dict:
    """The versions, hardware and settings this process trains with."""
    import numpy

    on_cuda = torch.device(device).type == "cuda"
    return {
        "gaespec": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "device": device,
        "device_name": torch.cuda.get_device_name(torch.device(device)) if on_cuda else "cpu",
        "cpu": _cpu_name(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "seed": seed,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _environment_changes(before: dict, now: dict) -> dict[str, tuple]:
    """The settings of REPRODUCIBILITY that differ between a run's start and now."""
    return {
        key: (before[key], now[key])
        for key in REPRODUCIBILITY
        if key in before and before[key] != now.get(key)
    }


def _comparable(spec: Spec) -> dict:
    data = spec.model_dump(mode="json", exclude_none=True)
    data["train"].pop("epochs", None)
    return data


def _read_metrics(path: Path, upto: int) -> list[dict]:
    return [r for r in layout.read_metrics(path) if r.get("epoch", 0) <= upto]


def train(
    spec: Spec | str | Path,
    *,
    data: str | DataSplits | None = None,
    epochs: int | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    device: str | None = None,
    log=None,
    track: Sequence[str | Tracker] = (),
) -> Run:
    """Train a spec on data (default: the spec's [train] table) into the run folder `out`.

    With resume=True, continue the run in `out` from its last finished epoch; the result equals a
    run that was never interrupted. Under torchrun it trains data-parallel (one process per
    device, `batch_size` the batch of all together; gaespec.training.distributed), and rank 0
    alone writes. `track` names experiment trackers ("tensorboard", "mlflow",
    "wandb"; see gaespec.tracking) that rank 0 feeds every epoch; they are checked first.
    """
    trackers = resolve_trackers(track)  # an unknown name or a missing package: before any work
    log = log or functools.partial(print, flush=True)
    spec = spec if isinstance(spec, Spec) else load_spec(spec)
    graph = lower(spec)
    settings = spec.train
    epochs = epochs or settings.epochs
    device = distributed.local_device(_device(device))
    out = Path(out or Path("runs") / spec.model.name)
    splits = (
        data
        if isinstance(data, DataSplits)
        else load_data(data or settings.data, seed=settings.seed)
    )
    low, high, why = data_range(spec) or (-float("inf"), float("inf"), "")
    splits.check(tuple(spec.input.shape), low=low, high=high, why=why)
    if splits.source != settings.data:  # the resolved spec records the data the run used
        spec = spec.model_copy(
            update={"train": settings.model_copy(update={"data": splits.source})}
        )

    if distributed.environment()[2] > 1:
        distributed.refuse_unsplittable(spec)
    torch.manual_seed(settings.seed)
    model = build(graph)
    try:
        trainer = Trainer(
            model,
            graph.objectives,
            splits,
            batch_size=settings.batch_size,
            eval_batch_size=settings.eval_batch_size,
            seed=settings.seed,
            select=settings.select,
            device=device,
            progress=progress,
            precision=settings.precision,
            channels_last=settings.channels_last,
            compile=settings.compile,
            conv_as_matmul=settings.conv_as_matmul,
        )
    except TrainingError as error:  # a bad optimiser or scheduler table: say where it was set
        if error.file is not None or error.key is None or error.key.startswith("--"):
            raise
        raise spec.error(
            error.message,
            error.key,
            cls=TrainingError,
            name=error.name,
            choices=error.choices,
            fix=error.fix,
        ) from None
    main = trainer.rank == 0
    last = out / layout.LAST
    if resume:
        if not last.exists():
            raise RunError(
                f"cannot resume: '{out}' holds no {layout.LAST}",
                fix="start the run without --resume",
            )
        before = layout.read_json(out / layout.TRAINING).get("data")
        if before != splits.source:
            raise RunError(
                f"cannot resume: '{out}' was trained on data '{before}', not '{splits.source}'",
                fix=f"pass --data {before}",
            )
        saved = load_spec(out / layout.SPEC)
        if _comparable(saved) != _comparable(spec):
            raise RunError(
                f"cannot resume: '{out}' was trained from a different spec",
                fix="give the same spec and --set values, or another --out",
            )
        try:
            state = load_state(last)
            for counter in ("epoch", "step"):
                layout.counter(state[counter], counter, last)
            if not isinstance(state["best"], (int, float)) or isinstance(state["best"], bool):
                raise RunError(f"'{last}' is damaged: its best is {state['best']!r}, not a number")
            trainer.load_state_dict(state)
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as error:
            raise RunError(
                f"cannot resume: '{last}' is damaged or holds another model's state "
                f"({type(error).__name__}: {error})",
                fix="start the run again with another --out",
            ) from None
        if main:
            log(f"resuming {out} after epoch {trainer.epoch} (step {trainer.step})")
        try:
            environment = layout.read_json(out / layout.ENVIRONMENT)
        except RunError as error:  # it only informs: say so, and go on
            environment = {}
            log(f"note: cannot compare this environment with the run's start: {error}")
        changes = _environment_changes(environment, _environment(settings.seed, device))
        if changes and main:
            shown = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in changes.items())
            log(
                f"note: this run started in another environment ({shown}); it goes on, but its "
                "numbers need not equal, bit for bit, those of a run never interrupted"
            )
    elif last.exists():
        raise RunError(f"'{out}' already holds a run", fix="pass --resume, or choose another --out")
    metrics = _read_metrics(out / layout.METRICS, trainer.epoch) if resume else []
    if main:
        out.mkdir(parents=True, exist_ok=True)
        # what a run killed in this folder was writing when it died
        remove_temporaries(out, layout.WRITTEN_BY_TRAINING)
        atomic_write_text(out / layout.SPEC, resolved_toml(spec))
        atomic_write_text(
            out / layout.TRAINING,
            json.dumps(
                {
                    "data": splits.source,
                    "epochs": epochs,
                    "batch_size": settings.batch_size,
                    "seed": settings.seed,
                    "device": device,
                    "select": trainer.select,
                    "sizes": {
                        "train": len(splits.train),
                        "validation": len(splits.validation),
                        "test": len(splits.test),
                    },
                },
                indent=2,
            ),
        )
        if not resume:
            atomic_write_text(
                out / layout.ENVIRONMENT, json.dumps(_environment(settings.seed, device), indent=2)
            )
        atomic_write_text(out / layout.METRICS, "".join(json.dumps(r) + "\n" for r in metrics))

    def on_epoch_end(trainer, record, improved):
        metrics.append(record)
        if not main:
            return
        atomic_write_text(out / layout.METRICS, "".join(json.dumps(r) + "\n" for r in metrics))
        if improved:
            weights = {
                k: v.detach().cpu().contiguous().clone()
                for k, v in trainer.model.state_dict().items()
            }
            atomic_write(
                out / layout.MODEL,
                lambda tmp: save_file(
                    weights,
                    tmp,
                    metadata={
                        "epoch": str(record["epoch"]),
                        "step": str(record["step"]),
                        "gaespec": __version__,
                    },
                ),
            )
        save_state(last, trainer.state_dict())
        shown = "  ".join(f"{k} {v:.4g}" for k, v in record["validation"].items())
        log(
            f"epoch {record['epoch']}/{epochs}  validation: {shown}"
            f"{'  (best)' if improved else ''}  [{record['seconds']:.1f}s]"
        )

    trainer.on("epoch_end", on_epoch_end)
    tracking = attach(trackers if main else [], trainer, out)
    try:
        trainer.fit(epochs)
    except TrainingError as error:  # a non-finite loss: say what the run folder still holds
        kept = (
            f"'{last}' keeps epoch {trainer.epoch}, the last good state"
            if trainer.epoch
            else "no epoch had finished, so nothing was saved"
        )
        raise TrainingError(
            f"{error.message}; {kept}", file=error.file, key=error.key, fix=error.fix
        ) from None
    finally:
        tracking.close(finished=tracking.epoch >= epochs)
        if trainer.parallel:
            trainer.parallel.close()
    return Run(out, trainer.model, metrics, splits, main)
