"""Fuzzing the run loader: a damaged run folder (truncated or random weights, a pickle named
.safetensors, JSON of the wrong shape, damaged metadata, a custom net by import path) loads, or
is refused with a RunError (or another GaespecError) naming the damaged file; `gaespec eval` and
`gaespec sample` print that as one line and exit 1; no code from the folder ever runs. One tiny
run is trained per module and copied for each damaged variant. Then the regressions."""

from __future__ import annotations

import importlib
import json
import pickle
import shutil
import sys
import tomllib
from pathlib import Path

import pytest
import torch
from checks import nodes, one_line
from hypothesis import event, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.torch import save_file
from tiny import tiny_spec
from typer.testing import CliRunner

import gaespec
from gaespec.cli import app
from gaespec.errors import GaespecError, RunError, SpecError
from gaespec.runs import ENVIRONMENT, LAST, METRICS, MODEL, SPEC, TRAINING, read_json, read_metrics
from gaespec.training.state import load_state

WHICH = {MODEL: "best", LAST: "last"}  # the weights file that `which` reads


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A finished one-epoch run of a tiny VAE on 8×8 digits; copy it, never change it."""
    from gaespec.data import load_data

    out = tmp_path_factory.mktemp("pristine") / "run"
    gaespec.train(
        tiny_spec("vae"),
        data=load_data("sklearn_digits", seed=0),
        epochs=1,
        out=out,
        progress=False,
        log=lambda *_: None,
    )
    return out


@pytest.fixture(scope="module")
def copies(pristine, tmp_path_factory):
    """Makes a fresh copy of the pristine run for each damaged variant."""

    def copy() -> Path:
        return Path(shutil.copytree(pristine, tmp_path_factory.mktemp("damaged") / "run"))

    return copy


def names_the_file(error: BaseException, run: Path, name: str) -> GaespecError:
    """`error` is gaespec's own, one line, and names the damaged file `name` of `run`."""
    if name == SPEC:  # the spec loader says where in the spec
        assert isinstance(error, SpecError) and error.file == str(run / SPEC), repr(error)
    else:
        assert type(error) is RunError, repr(error)
        assert f"'{run / name}'" in str(error), repr(error)
    one_line(error)
    return error


def refused(run: Path, name: str, *, which: str = "best") -> GaespecError:
    """The error of loading `run`, which must name the damaged file `name`."""
    with pytest.raises(GaespecError) as caught:
        gaespec.load_run(run, which=which)
    return names_the_file(caught.value, run, name)


def loads_or_refuses(run: Path, name: str, which: str = "best"):
    """The model, if the damage left the folder loadable; else checks the error names `name`."""
    try:
        return gaespec.load_run(run, which=which)
    except GaespecError as error:
        names_the_file(error, run, name)
        return None


def cli(*args) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def cli_refuses(run: Path, name: str, *args) -> str:
    """`gaespec eval/sample RUN` exits 1 with one line naming the damaged file `name`."""
    code, output = cli(*args)
    assert code == 1, output
    assert "Traceback" not in output
    lines = output.strip().splitlines()
    assert lines[0].startswith("error: ") and str(run / name) in lines[0], output
    return lines[0]


# ---- truncated and random weights -----------------------------------------------------------


@settings(max_examples=100)
@given(st.sampled_from([MODEL, LAST]), st.floats(0, 1, exclude_max=True))
def test_truncated_weights_are_refused(copies, name, fraction):
    run = copies()
    data = (run / name).read_bytes()
    (run / name).write_bytes(data[: int(len(data) * fraction)])
    refused(run, name, which=WHICH[name])
    if name == LAST:
        with pytest.raises(RunError) as caught:
            load_state(run / LAST)
        assert f"'{run / LAST}'" in one_line(caught.value)


@settings(max_examples=100)
@given(
    st.sampled_from([SPEC, TRAINING, MODEL, LAST]),
    st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=300).map(lambda b: b"\x08\x00\x00\x00\x00\x00\x00\x00{}" + b),
        st.text(max_size=100).map(str.encode),
    ),
)
def test_random_bytes_in_a_run_file_are_refused(copies, name, data):
    run = copies()
    (run / name).write_bytes(data)
    model = loads_or_refuses(run, name, WHICH.get(name, "best"))
    if model is not None:  # valid by chance: only a JSON object can be, and it is what was read
        assert name == TRAINING and model.run.training == json.loads(data)


@settings(max_examples=100)
@given(st.sampled_from([ENVIRONMENT, METRICS]), st.binary(max_size=200))
def test_random_bytes_in_a_json_file_are_refused(copies, name, data):
    run = copies()
    (run / name).write_bytes(data)
    read = read_json if name == ENVIRONMENT else read_metrics
    try:
        records = read(run / name)
    except GaespecError as error:
        assert type(error) is RunError and f"'{run / name}'" in one_line(error), repr(error)
        return
    records = records if isinstance(records, list) else [records]
    assert all(isinstance(record, dict) for record in records)


@pytest.mark.parametrize("name", [SPEC, TRAINING, MODEL, LAST])
def test_a_folder_in_place_of_a_file_is_refused(copies, name):
    run = copies()
    (run / name).unlink()
    (run / name).mkdir()
    refused(run, name, which=WHICH.get(name, "best"))


# ---- pickles never load ---------------------------------------------------------------------


class _Trap:
    """Unpickling this creates the marker file: proof that code from the folder ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _pickles(marker: Path) -> dict[str, bytes]:
    import io

    buffer = io.BytesIO()
    torch.save({"model": _Trap(marker), "epoch": 1}, buffer)
    return {
        **{f"pickle-{p}": pickle.dumps(_Trap(marker), protocol=p) for p in (0, 2, 5)},
        "torch.save": buffer.getvalue(),
    }


def test_the_trap_is_armed(tmp_path):
    for kind, payload in _pickles(tmp_path / "marker").items():
        (tmp_path / "marker").unlink(missing_ok=True)
        if kind == "torch.save":
            (tmp_path / "p").write_bytes(payload)
            torch.load(tmp_path / "p", weights_only=False)  # noqa: S614 - the point of the test
        else:
            pickle.loads(payload)  # noqa: S301 - the point of the test
        assert (tmp_path / "marker").exists(), kind


@pytest.mark.parametrize("name", [MODEL, LAST])
@pytest.mark.parametrize("kind", ["pickle-0", "pickle-2", "pickle-5", "torch.save"])
def test_a_pickle_named_safetensors_never_runs(copies, tmp_path, name, kind):
    run, marker = copies(), tmp_path / "marker"
    (run / name).write_bytes(_pickles(marker)[kind])
    error = refused(run, name, which=WHICH[name])
    assert "is not a readable safetensors file" in str(error)
    line = cli_refuses(run, name, "eval", run, "--which", WHICH[name])
    assert line == f"error: {error}"
    if name == MODEL:
        assert cli_refuses(run, name, "sample", run, "-n", 2) == f"error: {error}"
    assert not marker.exists()


# ---- JSON of the wrong shape ----------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
trainings = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "data": st.one_of(json_values, st.just("sklearn_digits")),
            "epochs": st.one_of(json_values, st.just("1")),
            "sizes": json_values,
            "seed": st.one_of(st.just("0"), json_values),
        },
    ),
)


@settings(max_examples=100)
@given(trainings)
def test_training_json_of_any_shape_loads_or_is_refused(copies, training):
    run = copies()
    (run / TRAINING).write_text(json.dumps(training), encoding="utf-8")
    model = loads_or_refuses(run, TRAINING)
    if model is not None:
        assert model.run.training == training
        assert isinstance(training, dict) and isinstance(training.get("data", ""), str)


@settings(max_examples=25)
@given(trainings)
def test_gaespec_eval_on_training_json_of_any_shape(copies, training):
    run = copies()
    (run / TRAINING).write_text(json.dumps(training), encoding="utf-8")
    code, output = cli("eval", run)
    assert "Traceback" not in output
    event(f"exit {code}")
    if code == 0:
        assert output.startswith("test MSE per pixel (best weights, 359 images): ")
    else:
        assert code == 1 and output.startswith("error: "), output
        assert len(output.strip().splitlines()) == 1, output


@settings(max_examples=100)
@given(st.lists(st.one_of(json_values.map(json.dumps), st.text(max_size=10)), max_size=4))
def test_metrics_lines_of_any_shape_are_read_or_refused(copies, lines):
    run = copies()
    (run / METRICS).write_text("\n".join(lines), encoding="utf-8")
    try:
        records = read_metrics(run / METRICS)
    except GaespecError as error:
        assert type(error) is RunError and f"'{run / METRICS}' line " in one_line(error)
        return
    assert records == [json.loads(line) for line in lines if line.strip()]


spec_values = st.one_of(
    st.integers(-2, 70),
    st.floats(-2, 70),
    st.text(max_size=6),
    st.sampled_from(["mlp", "z", "kl", "recon", "diag_gaussian", "deterministic", "a:b"]),
    st.lists(st.integers(-1, 70), max_size=3),
)


@settings(max_examples=60)
@given(
    st.sampled_from(
        [
            ("latent", "dim"),
            ("encoder", "hidden"),
            ("decoder", "hidden"),
            ("decoder", "input"),
            ("input", "shape"),
            ("latent", "posterior"),
            ("terms", "kl"),
            ("objective", "loss"),
            ("model", "name"),
            ("latent", "samples"),
        ]
    ),
    spec_values,
)
def test_a_changed_spec_toml_loads_or_is_refused(copies, key, value):
    from gaespec.spec.toml_writer import dumps

    run = copies()
    raw = tomllib.loads((run / SPEC).read_text(encoding="utf-8"))
    raw[key[0]][key[1]] = value
    (run / SPEC).write_text(dumps(raw), encoding="utf-8")
    try:
        model = gaespec.load_run(run)
    except GaespecError as error:
        named = (str(run / SPEC), str(run / MODEL))
        assert error.file == named[0] or f"'{named[1]}'" in one_line(error), repr(error)
        one_line(error)
        return
    assert model.sample(2).shape == (2, 1, 8, 8)


# ---- damaged metadata -----------------------------------------------------------------------


def _rewrite(path: Path, change) -> None:
    """Save the safetensors file at `path` again with its metadata changed by `change`."""
    with safe_open(str(path), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        metadata = f.metadata() or {}
    change(metadata)
    save_file(tensors, str(path), metadata=metadata)


counters = st.one_of(
    st.text(max_size=5), st.integers(-3, 10**6).map(str), st.sampled_from(["abc", "1e3", " 1", "١"])
)


@settings(max_examples=60)
@given(counters, counters)
def test_best_metadata_of_any_text_loads_or_is_refused(copies, epoch, step):
    run = copies()
    _rewrite(run / MODEL, lambda m: m.update(epoch=epoch, step=step))
    model = loads_or_refuses(run, MODEL)
    whole = all(v.isascii() and v.isdigit() for v in (epoch, step))
    assert (model is not None) == whole
    if model is not None:
        assert (model.run.epoch, model.run.step) == (int(epoch), int(step))


@settings(max_examples=100)
@given(st.data())
def test_a_mutated_training_state_loads_or_is_refused(copies, data):
    run = copies()
    with safe_open(str(run / LAST), framework="pt") as f:
        skeleton = json.loads(f.metadata()["gaespec_state"])
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.sampled_from([at for at, _ in nodes(skeleton) if len(at) <= 3]))
        new = data.draw(
            st.one_of(json_values, st.just({"__tensor__": "nope"}), st.just({"__dict__": 5}))
        )
        if not at:
            skeleton = new
            break
        node = skeleton
        for part in at[:-1]:
            node = node[part]
        node[at[-1]] = new
    text = data.draw(st.one_of(st.just(json.dumps(skeleton)), st.text(max_size=20)))
    _rewrite(run / LAST, lambda m: m.update(gaespec_state=text))
    model = loads_or_refuses(run, LAST, "last")
    if model is not None:
        assert isinstance(model.run.epoch, int) and model.run.epoch >= 0


# ---- a custom net by import path ------------------------------------------------------------


@pytest.fixture
def evil(tmp_path, monkeypatch):
    """A package `gaespec_fuzz_evil` on sys.path whose import creates a marker file."""
    folder = tmp_path / "site"
    (folder / "gaespec_fuzz_evil").mkdir(parents=True)
    marker = tmp_path / "imported"
    (folder / "gaespec_fuzz_evil" / "__init__.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).touch()\n"
    )
    (folder / "gaespec_fuzz_evil" / "mod.py").write_text("class Net:\n    pass\n")
    monkeypatch.syspath_prepend(str(folder))
    importlib.invalidate_caches()
    yield marker
    for name in [n for n in sys.modules if n.startswith("gaespec_fuzz_evil")]:
        del sys.modules[name]


def _custom(run: Path, encoder: str | None, decoder: str | None) -> None:
    text = (run / SPEC).read_text(encoding="utf-8")
    head, _, tail = text.partition("[decoder]")
    if encoder:
        head = head.replace('arch = "mlp"', f'arch = "{encoder}"', 1)
    if decoder:
        tail = tail.replace('arch = "mlp"', f'arch = "{decoder}"', 1)
    (run / SPEC).write_text(head + "[decoder]" + tail, encoding="utf-8")


@pytest.mark.parametrize(
    ("encoder", "decoder", "named"),
    [
        ("gaespec_fuzz_evil.mod:Net", None, "gaespec_fuzz_evil.mod:Net"),
        (None, "gaespec_fuzz_evil.mod:Net", "gaespec_fuzz_evil.mod:Net"),
        (
            "gaespec_fuzz_evil:Net",
            "gaespec_fuzz_evil.mod:Net",
            "gaespec_fuzz_evil:Net, gaespec_fuzz_evil.mod:Net",
        ),
    ],
)
def test_a_custom_net_is_never_imported_without_trust(copies, evil, encoder, decoder, named):
    run = copies()
    _custom(run, encoder, decoder)
    expected = (
        f"run '{run}' uses custom net {named}; importing it runs its code; fix: pass "
        "trust_code=True (CLI: --trust-code) if you trust where this run came from"
    )
    for which in ("best", "last"):
        with pytest.raises(RunError) as caught:
            gaespec.load_run(run, which=which)
        assert str(caught.value) == expected
    for args in (("eval", run), ("sample", run, "-n", 2), ("sample", run, "--sampler", "gmm")):
        code, output = cli(*args)
        assert (code, output) == (1, f"error: {expected}\n")
    assert not evil.exists()
    assert "gaespec_fuzz_evil" not in sys.modules


def test_with_trust_the_custom_net_is_imported(copies, evil):
    # the trap works: the same folder, trusted, imports the package
    run = copies()
    _custom(run, "gaespec_fuzz_evil.mod:Net", None)
    with pytest.raises(GaespecError):  # Net is no encoder, but importing it ran the package
        gaespec.load_run(run, trust_code=True)
    assert evil.exists()


@settings(max_examples=50)
@given(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}(\.[A-Za-z_][A-Za-z0-9_]{0,6}){0,2}", fullmatch=True),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,6}", fullmatch=True),
    st.booleans(),
)
def test_no_import_path_is_ever_imported_without_trust(copies, module, name, decoder):
    def refuse(*args, **kwargs):
        raise AssertionError(f"imported {args[0]!r}")

    run = copies()
    arch = f"{module}:{name}"
    _custom(run, None if decoder else arch, arch if decoder else None)
    with pytest.MonkeyPatch.context() as patch, pytest.raises(RunError) as caught:
        patch.setattr(importlib, "import_module", refuse)
        gaespec.load_run(run)
    assert f"uses custom net {arch}; importing it runs its code" in one_line(caught.value)


# ---- regressions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # before: ValueError (invalid literal for int() with base 10: 'abc')
        ({"epoch": "abc"}, "'{file}' is damaged: its epoch is 'abc', not a whole number >= 0"),
        ({"step": "-5"}, "'{file}' is damaged: its step is '-5', not a whole number >= 0"),
    ],
)
def test_damaged_counters_in_the_best_weights(copies, change, message):
    run = copies()
    _rewrite(run / MODEL, lambda m: m.update(change))
    assert str(refused(run, MODEL)) == message.format(file=run / MODEL)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        # before: json.JSONDecodeError
        (
            "{bad",
            "its training state is not valid JSON: Expecting property name enclosed in double "
            "quotes: line 1 column 2 (char 1)",
        ),
        # before: RecursionError
        ("[" * 100_000 + "]" * 100_000, "its training state is not valid JSON: nested too deeply"),
        # before: TypeError (list indices must be integers or slices, not str)
        ("[1, 2]", "its training state is not a JSON object"),
        # before: KeyError ('model')
        ('{"epoch": 1, "step": 1}', "its training state has no 'model'"),
        # before: KeyError ('nope'); TypeError; ValueError
        ('{"model": {"__tensor__": "nope"}}', "its training state does not match its tensors"),
        ('{"model": {"__dict__": 5}}', "its training state does not match its tensors"),
        ('{"model": {"__dict__": [[1]]}}', "its training state does not match its tensors"),
        # before: TypeError (Expected state_dict to be dict-like)
        ('{"model": 5, "epoch": 1, "step": 1}', "its model weights are not named tensors"),
        # before: a string epoch went into RunInfo, and `gaespec eval` failed on epoch - 1
        ('{"model": {}, "epoch": "1", "step": 1}', "its epoch is '1', not a whole number >= 0"),
    ],
)
def test_a_damaged_training_state(copies, state, message):
    run = copies()
    _rewrite(run / LAST, lambda m: m.update(gaespec_state=state))
    assert str(refused(run, LAST, which="last")) == f"'{run / LAST}' is damaged: {message}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # before: loaded; then `gaespec eval` failed with AttributeError ('list' has no 'get')
        ("[1, 2]", "'{file}' holds an array, not a JSON object"),
        ('"sklearn_digits"', "'{file}' holds a string, not a JSON object"),
        # before: loaded; then `gaespec eval` passed 5 to load_data
        ('{"data": 5}', "'{file}' is damaged: its data is 5, not the name of a data source"),
    ],
)
def test_training_json_of_the_wrong_shape(copies, text, message):
    run = copies()
    (run / TRAINING).write_text(text, encoding="utf-8")
    expected = message.format(file=run / TRAINING)
    assert str(refused(run, TRAINING)) == expected
    assert cli_refuses(run, TRAINING, "eval", run) == f"error: {expected}"


def test_a_folder_named_training_json(copies):
    # before: IsADirectoryError
    run = copies()
    (run / TRAINING).unlink()
    (run / TRAINING).mkdir()
    assert str(refused(run, TRAINING)) == f"cannot read '{run / TRAINING}': Is a directory"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # before: UnicodeDecodeError
        (
            b"\xff\n",
            "'{file}' is not valid JSON: 'utf-8' codec can't decode byte 0xff in position 0: "
            "invalid start byte",
        ),
        # before: returned [3, [1]], which the trainer then indexed as records
        (b'{"epoch": 1}\n3\n', "'{file}' line 2 holds a number, not a JSON object"),
        (b"\n\n[1]\n", "'{file}' line 3 holds an array, not a JSON object"),
    ],
)
def test_damaged_metrics_lines(tmp_path, data, message):
    (tmp_path / METRICS).write_bytes(data)
    with pytest.raises(RunError) as caught:
        read_metrics(tmp_path / METRICS)
    assert str(caught.value) == message.format(file=tmp_path / METRICS)


def test_json_nested_too_deeply(tmp_path):
    # before: RecursionError
    (tmp_path / ENVIRONMENT).write_text("[" * 100_000, encoding="utf-8")
    with pytest.raises(RunError) as caught:
        read_json(tmp_path / ENVIRONMENT)
    assert str(caught.value) == f"'{tmp_path / ENVIRONMENT}' is not valid JSON: nested too deeply"
