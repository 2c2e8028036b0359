"""Fuzzing the spec loader: mutated built-in specs, damaged TOML text, random `extends` graphs and
random `--set` overrides load into a Spec, or fail with a SpecError that names the file or key
(one line; a line number inside the file); a loaded spec lowers or fails the same way, and its
resolved TOML loads back equal. Then the regressions the fuzzing found."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import tomllib
from os import path as os_path
from pathlib import Path

import pytest
from checks import nodes, one_line, toml_string
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from gaespec.errors import GaespecError, SpecError
from gaespec.graph.lower import lower
from gaespec.spec.load import builtin_specs, load_spec
from gaespec.spec.schema import OVERRIDE
from gaespec.spec.toml_writer import spec_toml
from gaespec.spec.vocabulary import DECLARATIONS

BUILTIN = builtin_specs()
RAW = {name: tomllib.loads(path.read_text(encoding="utf-8")) for name, path in BUILTIN.items()}
KINDS = sorted({kind for registry in DECLARATIONS.values() for kind in registry})
# every key the schema or the built-in specs use, so that mutations hit real tables often
KEYS = sorted(
    {
        *"model name summary reference input shape encoder decoder arch hidden output latent dim"
        " posterior samples prior modules terms params schedules objective objectives loss"
        " optimizer lr scheduler interval train data epochs batch_size eval_batch_size seed"
        " select kind args unit extends latent_dim likelihood scale critic codebook"
        " num_embeddings reconstruction".split(),
    }
)
ROOT_RULE = ("a spec needs [objective]", "give either [objective] or [[objectives]]")


# ---- writing TOML that holds any value tomllib can give -------------------------------------


def _key(name: str) -> str:
    bare = name and all(c.isascii() and (c.isalnum() or c in "_-") for c in name)
    return name if bare else toml_string(name)


def _inline(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(map(_inline, value)) + "]"
    return "{" + ", ".join(f"{_key(k)} = {_inline(v)}" for k, v in value.items()) + "}"


def to_toml(data: dict) -> str:
    """TOML text: top-level values, then a [table] per table, a [[table]] per array of them."""
    lines = [f"{_key(k)} = {_inline(v)}" for k, v in data.items() if not _is_section(v)]
    for k, v in data.items():
        for table in [v] if isinstance(v, dict) else v if _is_section(v) else []:
            lines.append(f"[[{_key(k)}]]" if isinstance(v, list) else f"[{_key(k)}]")
            lines.extend(f"{_key(kk)} = {_inline(vv)}" for kk, vv in table.items())
    return "\n".join(lines) + "\n"


def _is_section(value) -> bool:
    return isinstance(value, dict) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)
    )


# ---- strategies -----------------------------------------------------------------------------

keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=6))
scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 1, -1, 64, 2**32]),
    st.floats(),
    st.text(max_size=10),
    st.sampled_from(KINDS + ["mlp", "adam", "z", "recon", "kl", "critic", "1 +", "recon + kl"]),
    st.dates(),
    st.datetimes(timezones=st.sampled_from([None, dt.UTC])),
    st.times(),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(keys, children, max_size=3)
    ),
    max_leaves=6,
)


def _parent(data, path):
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def mutated_specs(draw):
    """A built-in spec's tables with one to three random mutations; (name, data)."""
    name = draw(st.sampled_from(sorted(RAW)))
    data = copy.deepcopy(RAW[name])
    for _ in range(draw(st.integers(1, 3))):
        path, node = draw(st.sampled_from(list(nodes(data))))
        op = draw(
            st.sampled_from(
                ["delete", "replace", "add", "flip", "rename", "kind", "transplant"]
                if path
                else ["add", "transplant"]
            )
        )
        if op == "add" and isinstance(node, dict):
            node[draw(keys)] = draw(values)
        elif op == "transplant":  # a piece of another spec, anywhere
            other = RAW[draw(st.sampled_from(sorted(RAW)))]
            piece = copy.deepcopy(draw(st.sampled_from(list(nodes(other))))[1])
            if isinstance(node, dict):
                node[draw(keys)] = piece
            elif path:
                _parent(data, path)[path[-1]] = piece
        elif not path:
            continue
        elif op == "delete":
            del _parent(data, path)[path[-1]]
        elif op == "replace":
            _parent(data, path)[path[-1]] = draw(values)
        elif op == "flip":  # a table becomes a value, a value a table
            flipped = (
                draw(scalars)
                if isinstance(node, (dict, list))
                else {draw(keys): node, "kind": draw(st.sampled_from(KINDS))}
            )
            _parent(data, path)[path[-1]] = flipped
        elif op == "rename" and isinstance(path[-1], str):
            parent = _parent(data, path)
            parent[draw(keys)] = parent.pop(path[-1])
        elif op == "kind" and isinstance(node, dict):
            node["kind"] = draw(st.sampled_from(KINDS))
    return name, data


# ---- the properties -------------------------------------------------------------------------


def check_error(error: BaseException, files: set[str]) -> None:
    """A SpecError that says where: a file of the chain (or --set) and a key, one line."""
    assert isinstance(error, SpecError), repr(error)
    one_line(error)
    assert error.file in files | {OVERRIDE} or error.key == OVERRIDE, repr(error)
    if error.key is None:  # a fault of the whole file, or an empty key at the top
        whole = (*ROOT_RULE, "invalid TOML", "not a UTF-8 TOML file", "unknown key ''")
        assert error.message.startswith(whole), repr(error)
    if error.line is not None:
        assert error.file not in (None, OVERRIDE), repr(error)
        lines = Path(error.file).read_text(encoding="utf-8", errors="replace").split("\n")
        assert 1 <= error.line <= len(lines), repr(error)
        assert error.column is None or error.column >= 1, repr(error)


def _json(spec) -> str:
    return json.dumps(spec.model_dump(mode="json"), sort_keys=True)


def check_loads(path: Path, files: set[str], overrides=()):
    """Load `path`; a Spec lowers or fails saying where, and its resolved TOML loads back equal."""
    try:
        spec = load_spec(path, overrides)
    except GaespecError as error:
        check_error(error, files)
        event(f"refused: {type(error).__name__}")
        return None
    resolved = path.parent / "resolved.toml"
    resolved.write_text(spec_toml(spec), encoding="utf-8")
    # compared as JSON text, where a NaN in a net's options equals itself
    assert _json(load_spec(resolved)) == _json(spec)
    try:
        lower(spec)
    except GaespecError as error:
        check_error(error, files)
        assert error.key is not None, repr(error)
        event(f"loaded, not lowered: {type(error).__name__}")
        return spec
    event("loaded and lowered")
    return spec


def _chain_files(name: str, folder: Path) -> set[str]:
    files = {str(folder / f"{name}.toml")}
    parent = RAW[name].get("extends")
    while parent:
        files.add(str(BUILTIN[parent]))
        parent = RAW[parent].get("extends")
    return files


@settings(max_examples=200)
@given(mutated_specs())
def test_mutated_specs_load_or_say_where(tmp_path_factory, case):
    name, data = case
    folder = tmp_path_factory.mktemp("spec")
    path = folder / f"{name}.toml"
    text = to_toml(data)
    assert tomllib.loads(text) == tomllib.loads(text)  # the writer wrote valid TOML
    path.write_text(text, encoding="utf-8")
    check_loads(path, _chain_files(name, folder))


@st.composite
def damaged_texts(draw):
    """A built-in spec's text with slices deleted, replaced or duplicated, as bytes."""
    name = draw(st.sampled_from(sorted(BUILTIN)))
    data = BUILTIN[name].read_bytes()
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(data)))
        end = draw(st.integers(start, min(len(data), start + 40)))
        insert = draw(
            st.one_of(
                st.binary(max_size=8),
                st.text(max_size=8).map(str.encode),
                st.sampled_from([b"", b"\n", b"[", b"]", b"=", b'"', b"[[objectives]]\n"]),
                st.just(data[start:end] * 2),
            )
        )
        data = data[:start] + insert + data[end:]
    return name, data


@settings(max_examples=200)
@given(st.one_of(damaged_texts(), st.tuples(st.just("vae"), st.binary(max_size=200))))
def test_damaged_spec_text_loads_or_says_where(tmp_path_factory, case):
    name, data = case
    folder = tmp_path_factory.mktemp("spec")
    path = folder / f"{name}.toml"
    path.write_bytes(data)
    check_loads(path, _chain_files(name, folder))


# ---- extends graphs -------------------------------------------------------------------------

FILES = ("a", "b", "c", "d")
VAE_BODY = to_toml({k: v for k, v in RAW["vae"].items() if k != "model"})


@st.composite
def extends_graphs(draw):
    """Four files, each extending another, itself, a built-in, nothing, or something unusable."""
    graph = {}
    for name in FILES:
        graph[name] = draw(
            st.one_of(
                st.none(),
                st.sampled_from(FILES),  # cycles, self-extends, chains, diamonds of parents
                st.sampled_from(FILES).map(lambda n: f"./{n}.toml"),
                st.sampled_from(["vae", "beta_vae", "nope", "", ".", "sub/", "/", "x" * 300]),
                st.sampled_from(["a.toml", "../a.toml", "sub", "sub/a.toml", "a\x00.toml"]),
                st.sampled_from([3, ["a"], {"a": 1}, True]),
                st.text(max_size=5),
            )
        )
    bodies = {name: draw(st.sampled_from(["full", "name", "broken"])) for name in FILES}
    return graph, bodies


def _expected(graph: dict, start: str, folder: Path) -> tuple[str, str | None]:
    """What loading `start` gives: ("ok" | "cycle" | "type" | "unknown" | "read", file at fault)."""
    seen = []
    name = start
    while True:
        seen.append(name)
        parent = graph[name]
        if parent is None:
            return "ok", None
        if not isinstance(parent, str):
            return "type", name
        if parent.endswith(".toml") or "/" in parent:  # a path, relative to the child
            target = Path(os_path.abspath(folder / parent)) if "\x00" not in parent else None
            if target is None or not target.is_file():
                return "read", name
            if target.parent != folder or target.stem not in FILES:
                return "ok", None  # a file of the machine's that happens to be TOML
            parent = target.stem
        elif parent not in FILES:
            return ("ok", None) if parent in BUILTIN else ("unknown", name)
        if parent in seen:
            return "cycle", name
        name = parent


@settings(max_examples=200)
@given(extends_graphs())
def test_extends_graphs_load_or_say_where(tmp_path_factory, case):
    graph, bodies = case
    folder = tmp_path_factory.mktemp("extends")
    (folder / "sub").mkdir()
    for name, parent in graph.items():
        head = "" if parent is None else f"extends = {_inline(parent)}\n"
        body = {"full": VAE_BODY, "name": "", "broken": "[terms]\nrecon = 3\n"}[bodies[name]]
        (folder / f"{name}.toml").write_text(
            f'{head}[model]\nname = "{name}"\n{body}', encoding="utf-8"
        )
    files = {str(folder / f"{n}.toml") for n in FILES} | {str(p) for p in BUILTIN.values()}
    for start in FILES:
        outcome, culprit = _expected(graph, start, folder)
        try:
            spec = load_spec(folder / f"{start}.toml")
        except GaespecError as error:
            check_error(error, files)
            if outcome == "ok":
                assert "extends" not in error.message, (graph, start, error)
                continue
            assert (error.file, error.key) == (str(folder / f"{culprit}.toml"), "extends")
            expected = {
                "cycle": ("cycle in extends: ",),
                "type": ("extends must be a spec name or a path string",),
                "unknown": ("unknown parent spec ",),
                "read": ("cannot read spec file ", "no such spec file "),
            }[outcome]
            assert error.message.startswith(expected), (graph, start, error)
            continue
        assert outcome == "ok", (graph, start, outcome, culprit)
        assert spec.model.name == start


# ---- --set overrides ------------------------------------------------------------------------

override_keys = st.lists(
    st.one_of(st.sampled_from(KEYS), st.sampled_from(["0", "1", "recon", "kl", "beta", ""])),
    min_size=1,
    max_size=4,
).map(".".join)
override_values = st.one_of(values.map(_inline), st.text(max_size=12))


@settings(max_examples=200)
@given(
    st.sampled_from(sorted(BUILTIN)),
    st.lists(
        st.one_of(
            st.builds("{}={}".format, override_keys, override_values),
            st.text(max_size=15),
        ),
        max_size=4,
    ),
)
def test_overrides_load_or_say_where(name, overrides):
    path = BUILTIN[name]
    files = {str(p) for p in BUILTIN.values()}
    try:
        spec = load_spec(path, overrides)
    except GaespecError as error:
        check_error(error, files)
        return
    try:
        lower(spec)
    except GaespecError as error:
        check_error(error, files)


@settings(max_examples=100)
@given(
    st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(lambda n: not n.startswith("__")),
    st.floats(allow_nan=False, allow_infinity=False),
)
def test_a_param_override_sets_the_param(name, value):
    import keyword

    assume(not keyword.iskeyword(name))
    spec = load_spec("vae", [f"params.{name}={_inline(value)}"])
    assert spec.params[name] == value


@settings(max_examples=100)
@given(st.dictionaries(override_keys, values, max_size=3))
def test_mapping_overrides_load_or_say_where(overrides):
    files = {str(p) for p in BUILTIN.values()}
    try:
        load_spec("vqvae", overrides)
    except GaespecError as error:
        check_error(error, files)


# ---- regressions ----------------------------------------------------------------------------


def _write(folder: Path, text: str) -> Path:
    path = folder / "child.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("parent", "message"),
    [
        # before: OSError (File name too long) from Path.exists
        ("x" * 300, "unknown parent spec '" + "x" * 300 + "'"),
        # before: ValueError (embedded null byte) from Path.resolve
        ("nul\\u0000.toml", "cannot read spec file '{folder}/nul\\x00.toml': embedded null byte"),
        # before: named the folder as the file at fault, with no key
        ("sub/", "cannot read spec file '{folder}/sub': Is a directory"),
        ("missing/vae.toml", "no such spec file '{folder}/missing/vae.toml'"),
    ],
)
def test_an_unusable_parent_is_an_error_at_extends(tmp_path, parent, message):
    (tmp_path / "sub").mkdir()
    path = _write(tmp_path, f'extends = "{parent}"\n[model]\nname = "child"\n')
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value) == f"{path}:1:1: extends: " + message.format(folder=tmp_path)


def test_a_spec_name_too_long_for_a_file_is_unknown():
    # before: OSError (File name too long) from Path.exists
    with pytest.raises(SpecError) as caught:
        load_spec("v" * 300)
    assert str(caught.value) == f"no spec file '{'v' * 300}' and no built-in spec of that name"


def test_toml_nested_too_deeply(tmp_path):
    # before: RecursionError from tomllib
    path = _write(tmp_path, "x = " + "[" * 2000 + "]" * 2000 + "\n")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value) == f"{path}: invalid TOML: arrays or tables nested too deeply"


def test_an_override_value_nested_too_deeply():
    # before: RecursionError from tomllib
    with pytest.raises(SpecError) as caught:
        load_spec("vae", ["params.beta=" + "[" * 2000 + "]" * 2000])
    assert (
        str(caught.value) == "--set: the value of 'params.beta' nests arrays or tables too deeply"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # before: TypeError ('int' object does not support item assignment)
        (
            ["encoder.arch=mlp", "encoder.hidden=[1, 2]", "encoder.hidden.0.x=1"],
            "--set: cannot set 'encoder.hidden.0.x': 'encoder.hidden.0' is a value, not a table",
        ),
        (
            ["terms=[1, 2]", "terms.1.kind=kl"],
            "--set: cannot set 'terms.1.kind': 'terms.1' is a value, not a table",
        ),
        # before: blamed specs/models/vae.toml for a table that only the override wrote
        ("a..b=1", "--set: a: unknown key 'a'"),
        (
            ["objectives.0.loss=kl"],
            "--set: objectives: Input should be a valid tuple",
        ),
    ],
)
def test_overrides_through_values_and_new_tables(overrides, message):
    with pytest.raises(SpecError) as caught:
        load_spec("vae", [overrides] if isinstance(overrides, str) else overrides)
    assert str(caught.value) == message


def test_the_resolved_spec_keeps_every_character_and_date(tmp_path):
    # before: spec_toml wrote DEL bare and a key beyond U+FFFF as a surrogate pair (both invalid
    # TOML, so a run's spec.toml could not be read back), and a date option as a string
    data = copy.deepcopy(RAW["vae"])
    data["model"]["summary"] = "a\x7fb"
    data["encoder"].update({"\U0001f600": 1, "when": dt.date(1979, 5, 27)})
    path = tmp_path / "vae.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    spec = load_spec(path)
    resolved = tomllib.loads(spec_toml(spec))
    assert resolved["model"]["summary"] == "a\x7fb"
    assert resolved["encoder"] == {
        "arch": "mnist_convnet",
        "\U0001f600": 1,
        "when": dt.date(1979, 5, 27),
    }


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        # before: the raw line break split the message in two, and the key ended in '.[key]'
        (
            ("terms", "re\ncon"),
            {"kind": "kl"},
            "{path}:14:2: terms.re\\ncon: 're\\ncon' is not a valid name: use ASCII letters, "
            "digits and _ (not first)",
        ),
        (
            ("prior", "kind"),
            "standard\nnormal",
            "{path}:13:1: prior.kind: unknown kind 'standard\\nnormal' (expected one of "
            "standard_normal, vamp, or a class of yours as 'package.module:Class'); closest "
            "valid choice: 'standard_normal'",
        ),
        (
            ("model", "\x1b[2J"),
            "x",
            "{path}:1:2: model.\\x1b[2J: unknown key '\\x1b[2J'",
        ),
    ],
)
def test_a_name_with_unprintable_characters_is_shown_escaped(tmp_path, where, value, message):
    data = copy.deepcopy(RAW["vae"])
    data[where[0]][where[1]] = value
    path = tmp_path / "vae.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert one_line(caught.value) == message.format(path=path)
