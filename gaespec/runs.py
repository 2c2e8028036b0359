"""The run directory: what a training run writes, and `load_run`, which reads only TOML, JSON
and safetensors (no pickle, so a downloaded run cannot execute code)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from gaespec.errors import RunError

SPEC = "spec.toml"  # the fully resolved spec: extends merged, overrides applied
TRAINING = "training.json"  # how it was trained: data, epochs, batch size, seed, device, sizes
ENVIRONMENT = "environment.json"  # versions, platform, device, seed, start time
METRICS = "metrics.jsonl"  # one line per epoch: every term and total, train and validation
MODEL = "model.safetensors"  # the weights that scored best on the validation split
LAST = "last.safetensors"  # the whole training state after the last finished epoch
COUNTERS = ("epoch", "step")  # where a saved model was in training
# what a training run writes (and so may leave half-written when killed)
WRITTEN_BY_TRAINING = (SPEC, TRAINING, ENVIRONMENT, METRICS, MODEL, LAST)
SAMPLES = "samples.png"
RECONSTRUCTIONS = "reconstructions.png"
CURVES = "curves.png"  # every term and objective, train and validation, per epoch (gaespec.plots)
# an exported model (gaespec export): MODEL, SPEC and CONFIG, whose "training" is TRAINING's content
CONFIG = "config.json"


@dataclass(frozen=True)
class RunInfo:
    """Where a loaded model came from: its run folder, its resolved spec, its training config."""

    path: Path
    spec: object
    training: dict
    epoch: int
    step: int


def _custom_code(spec) -> list[str]:
    """The nets and kinds of the spec given by import path: code from wherever the run came."""
    from gaespec.nets import is_import_path
    from gaespec.spec.vocabulary import is_custom

    nets = [arch for arch in (spec.encoder.arch, spec.decoder.arch) if is_import_path(arch)]
    declared = [spec.latent.posterior, spec.prior, *spec.modules.values(), *spec.terms.values()]
    return nets + [decl.kind for decl in declared if is_custom(decl)]


def _json_type(value) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        int: "a number",
        float: "a number",
    }
    return names[type(value)]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunError(f"'{path}' is missing", fix="the run folder is incomplete") from None
    except UnicodeDecodeError as error:
        raise RunError(f"'{path}' is not valid JSON: {error}") from None
    except OSError as error:  # a folder, or a file the user may not read
        raise RunError(f"cannot read '{path}': {error.strerror}") from None


def _parse_object(text: str, path: Path, where: str = "") -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise RunError(f"'{path}'{where} is not valid JSON: {error}") from None
    except RecursionError:
        raise RunError(f"'{path}'{where} is not valid JSON: nested too deeply") from None
    if not isinstance(value, dict):
        raise RunError(f"'{path}'{where} holds {_json_type(value)}, not a JSON object")
    return value


def read_json(path: Path) -> dict:
    """A run's JSON file, an object; a missing or damaged one raises RunError."""
    return _parse_object(_read_text(path), path)


def read_metrics(path: Path) -> list[dict]:
    """The records of a metrics.jsonl file (none if it is missing); damage raises RunError."""
    if not path.exists():
        return []
    lines = _read_text(path).splitlines()
    return [
        _parse_object(line, path, f" line {number}")
        for number, line in enumerate(lines, start=1)
        if line.strip()
    ]


def counter(value, name: str, path: Path) -> int:
    """A saved epoch or step count: a whole number, 0 or more."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise RunError(f"'{path}' is damaged: its {name} is {value!r}, not a whole number >= 0")


def best_weights(path: Path, *, tensors: bool = True) -> tuple[dict, tuple[int, int]]:
    """A run's best weights (none with tensors=False, which needs no torch) and the (epoch, step)
    they were saved at."""
    from safetensors import safe_open

    if not (path / MODEL).exists():
        raise RunError(f"run '{path}' has no {MODEL} yet: no epoch has finished")
    try:
        with safe_open(str(path / MODEL), framework="pt" if tensors else "numpy") as f:
            metadata = f.metadata() or {}
            weights = {k: f.get_tensor(k) for k in f.keys()} if tensors else {}
    except Exception as error:  # safetensors raises its own error types for damaged files
        raise RunError(f"'{path / MODEL}' is not a readable safetensors file: {error}") from None
    texts = {name: metadata.get(name, "0") for name in COUNTERS}  # safetensors metadata is text
    counters = {n: int(t) if t.isascii() and t.isdigit() else t for n, t in texts.items()}
    return weights, tuple(counter(counters[n], n, path / MODEL) for n in COUNTERS)


def _last(path: Path) -> tuple[dict, tuple[int, int]]:
    """The weights of the last finished epoch and its (epoch, step), from the training state."""
    import torch

    from gaespec.training.state import load_state

    if not (path / LAST).exists() and (path / CONFIG).exists():
        raise RunError(
            f"'{path}' is an exported model: it holds the best weights, not the last epoch's",
            fix="load its best weights (which='best', CLI: --which best)",
        )
    state = load_state(path / LAST)
    for key in ("model", *COUNTERS):
        if key not in state:
            raise RunError(f"'{path / LAST}' is damaged: its training state has no '{key}'")
    weights = state["model"]
    if not isinstance(weights, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()
    ):
        raise RunError(f"'{path / LAST}' is damaged: its model weights are not named tensors")
    return weights, tuple(counter(state[n], n, path / LAST) for n in COUNTERS)


def _training(path: Path) -> tuple[dict, Path]:
    """The training config and its file: a run's training.json, or an export's config.json."""
    if (path / TRAINING).exists() or not (path / CONFIG).exists():
        return read_json(path / TRAINING), path / TRAINING
    training = read_json(path / CONFIG).get("training")
    if not isinstance(training, dict):
        raise RunError(f"'{path / CONFIG}' is damaged: its training is not a JSON object")
    return training, path / CONFIG


def require_run(path: Path) -> None:
    """Raise RunError unless `path` holds a run: its resolved spec.toml."""
    if not (path / SPEC).exists():
        raise RunError(
            f"'{path}' is not a gaespec run: it has no {SPEC}",
            fix="give the --out folder of `gaespec train`",
        )


def _check_training(path: Path, training: dict) -> None:
    data = training.get("data", "")
    if not isinstance(data, str):
        raise RunError(f"'{path}' is damaged: its data is {data!r}, not the name of a data source")


def load_run(path: str | Path, *, which: str = "best", trust_code: bool = False):
    """The trained model of a run folder, an exported one (gaespec export) or a model on the
    Hugging Face Hub ("hf://ORG/NAME", "hf://ORG/NAME@REVISION"), in eval mode; `which` is "best"
    or "last".

    A spec naming a custom net by import path is refused unless `trust_code=True`, because
    importing it runs code from wherever the run came from.
    """
    from gaespec.compose import build
    from gaespec.hub.names import is_hub_ref
    from gaespec.spec.load import load_spec

    if isinstance(path, str) and is_hub_ref(path):
        from gaespec.hub.resolve import download_run

        path = download_run(path)
    path = Path(path)
    require_run(path)
    spec = load_spec(path / SPEC)
    custom = _custom_code(spec)
    if custom and not trust_code:
        nets_only = {spec.encoder.arch, spec.decoder.arch} >= set(custom)
        raise RunError(
            f"run '{path}' uses custom {'net' if nets_only else 'code'} {', '.join(custom)}; "
            "importing it runs its code",
            fix="pass trust_code=True (CLI: --trust-code) if you trust where this run came from",
        )
    training, source = _training(path)
    _check_training(source, training)
    model = build(spec)
    if which == "best":
        (weights, counters), source = best_weights(path), path / MODEL
    elif which == "last":
        (weights, counters), source = _last(path), path / LAST
    else:
        raise RunError(
            f"which must be 'best' or 'last', not '{which}'", name=which, choices=["best", "last"]
        )
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError as error:
        raise RunError(f"the weights in '{source}' do not fit the run's spec: {error}") from None
    if missing or unexpected:
        raise RunError(
            f"the weights in '{source}' do not fit the run's spec (missing: {missing[:3]}, "
            f"unexpected: {unexpected[:3]})"
        )
    model.eval()
    model.run = RunInfo(path, spec, training, *counters)
    return model
