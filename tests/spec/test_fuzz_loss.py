"""Fuzzing the loss language: any text gives an expression tree or a LossSyntaxError that says
where (file, key, line, column, one line); a tree prints back to itself, compiles as Python, and
evaluates to a real number or tensor or a SpecError. Then the regressions the fuzzing found."""

from __future__ import annotations

import json

import pytest
import torch
from checks import one_line, toml_string
from hypothesis import given, settings
from hypothesis import strategies as st

from gaespec.errors import GaespecError, LossSyntaxError, SpecError
from gaespec.graph.lower import lower
from gaespec.spec.load import load_spec
from gaespec.spec.loss import evaluate, free_names, parse_loss, to_formula, to_python

FILE, KEY = "specs/models/fuzz.toml", "objective.loss"
TERMS = ("recon", "kl")
PARAMS = ("beta", "gamma")
NAMES = (*TERMS, *PARAMS, "nope")  # "nope" is bound to nothing
CALLEES = (
    *("abs", "min", "max", "exp", "log", "sqrt", "clamp"),
    *("linear", "cyclical", "warmup"),
    *("sin", "Linear", "eval"),  # not in the language
)
NUMBER_ENV = {"recon": 2.5, "kl": 0.25, "beta": 4.0, "gamma": -3.0}
# float64 and float32 tensors: a number bound of min, max or clamp beyond float32's range is ±inf
# there (test_a_bound_beyond_float32_on_a_float32_tensor)
TENSOR_ENV = {
    "recon": torch.tensor([2.5, 0.0, -1.0], dtype=torch.float64),
    "kl": torch.tensor([0.25, 3.0, 0.0], dtype=torch.float64),
    "beta": 4.0,
    "gamma": -3.0,
}
FLOAT32_ENV = {**TENSOR_ENV, "recon": TENSOR_ENV["recon"].float(), "kl": TENSOR_ENV["kl"].float()}


def checked_parse(text: str):
    """The tree of `text`, or None after checking that its LossSyntaxError says where."""
    try:
        return parse_loss(text, file=FILE, key=KEY)
    except GaespecError as error:
        assert type(error) is LossSyntaxError, repr(error)
        assert (error.file, error.key) == (FILE, KEY)
        if not text.strip():
            assert one_line(error).startswith(f"{FILE}: {KEY}: empty loss expression")
        else:  # the caret sits under the column it names
            assert one_line(error).startswith(f"{FILE}:{error.line}:{error.column}: {KEY}: ")
            source, caret = error.context.split("\n")
            assert caret.index("^") == 4 + error.column - 1, (error.context, error.column)
        return None


# ---- strategies -----------------------------------------------------------------------------

spaces = st.sampled_from(["", " ", "  ", "\t", "\n", " \r\n "])
numbers = st.one_of(
    st.integers(0, 10**20).map(str),
    st.floats(0, 1e300, allow_nan=False, allow_infinity=False).map(repr),
    st.builds("{}e{}".format, st.integers(0, 999), st.integers(-400, 400)),
    st.sampled_from(["0", ".5", "1.", "00", "1e-400", "1e400", "0.0"]),
)
leaves = st.one_of(numbers, st.sampled_from(NAMES))


def _extend(children):
    return st.one_of(
        st.builds(
            "{}{}{}{}{}".format,
            children,
            spaces,
            st.sampled_from(["+", "-", "*", "/", "**"]),
            spaces,
            children,
        ),
        st.builds("{}{}".format, st.sampled_from(["-", "+", "- "]), children),
        st.builds("({}{})".format, children, spaces),
        st.builds(
            lambda func, args, sep: f"{func}({sep.join(args)})",
            st.sampled_from(CALLEES),
            st.lists(children, max_size=4),
            st.sampled_from([", ", ",", " , ", ",\n"]),
        ),
    )


# expressions built from the grammar's pieces: most parse, some are wrong in one place
expressions = st.recursive(leaves, _extend, max_leaves=25)
# text from the grammar's alphabet, then any text, then any bytes read as Latin-1
near_misses = st.text(alphabet="abklr_0123456789.eE+-*/() ,\t\n$=[]'\"", max_size=40)
any_text = st.one_of(
    st.text(max_size=60), st.binary(max_size=60).map(lambda b: b.decode("latin-1"))
)


# ---- the properties -------------------------------------------------------------------------


def _check_tree(expr, text: str) -> None:
    assert parse_loss(to_formula(expr)) == expr
    compile(to_python(expr, lambda id: f"v[{id!r}]"), "<loss>", "eval")
    assert all(name.isidentifier() and name in text for name in free_names(expr))
    for env in (NUMBER_ENV, TENSOR_ENV, FLOAT32_ENV):
        try:
            value = evaluate(expr, env, step=7)
        except GaespecError as error:
            assert type(error) is SpecError, repr(error)
            one_line(error)
            continue
        if isinstance(value, torch.Tensor):
            assert not value.is_complex(), (to_formula(expr), value)
        else:
            assert isinstance(value, (int, float)), (to_formula(expr), value)


@given(expressions)
def test_expressions_parse_or_say_where(text):
    expr = checked_parse(text)
    if expr is not None:
        _check_tree(expr, text)


@settings(max_examples=300)
@given(st.one_of(near_misses, any_text))
def test_any_text_parses_or_says_where(text):
    expr = checked_parse(text)
    if expr is not None:
        _check_tree(expr, text)


def _spec_text(loss: str) -> str:
    return (
        '[model]\nname = "fuzz"\n[encoder]\narch = "mlp"\n[decoder]\narch = "mlp"\n'
        "[input]\nshape = [1, 8, 8]\n[params]\nbeta = 4.0\ngamma = -3.0\n"
        '[terms]\nrecon = { kind = "reconstruction" }\nkl = { kind = "kl" }\n'
        f"[objective]\nloss = {toml_string(loss)}\n"
    )


LOSS_LINE = _spec_text("").splitlines().index('loss = ""') + 1


@settings(max_examples=200)
@given(st.one_of(expressions, near_misses))
def test_a_spec_with_any_loss_lowers_or_says_where(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("spec") / "fuzz.toml"
    path.write_text(_spec_text(text), encoding="utf-8")
    try:
        graph = lower(load_spec(path))
    except GaespecError as error:
        assert isinstance(error, SpecError), repr(error)
        assert error.file == str(path), repr(error)
        one_line(error)
        if error.key == "objective.params":  # a loss that reaches only some modules
            assert "no gradient of its loss" in error.message
            return
        assert error.key == KEY, repr(error)
        assert error.line == LOSS_LINE, repr(error)
        return
    assert graph.objectives[0].loss == parse_loss(text)


# ---- regressions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("-" * 2000 + "kl", 101),  # the 101st sign
        ("kl" + " + kl" * 2000, 1),  # the 101st sum from the right starts at the left
        ("kl" + " ** kl" * 2000, 595),  # the 100th power's left side, at depth 101
        ("abs(" * 400 + "kl" + ")" * 400, 401),  # the 101st call
        ("-(" * 60 + "abs(" * 60 + "kl" + ")" * 120, 281),  # 60 signs, then the 41st call
    ],
)
def test_deep_nesting_is_a_syntax_error(text, column):
    # before: RecursionError (or lark's VisitError around one) from the recursive tree walks
    with pytest.raises(LossSyntaxError) as caught:
        parse_loss(text, file=FILE, key=KEY)
    assert one_line(caught.value) == (
        f"{FILE}:1:{column}: {KEY}: loss expression nests deeper than 100 levels "
        f"at column {column} of {text!r}"
    )


def test_nesting_up_to_the_limit_parses_prints_and_evaluates():
    for text in ("-" * 99 + "kl", "kl" + " + kl" * 99, "abs(" * 99 + "kl" + ")" * 99):
        expr = parse_loss(text)
        assert parse_loss(to_formula(expr)) == expr
        compile(to_python(expr, lambda id: f"v[{id!r}]"), "<loss>", "eval")
        assert evaluate(expr, TENSOR_ENV, step=0).shape == (3,)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "linear(0, 1, (-1) ** 0.5)",
            "linear() arguments cannot be computed: (-1) ** 0.5 is not a real number "
            "at column 1 of 'linear(0, 1, (-1) ** 0.5)'",
        ),
        (
            "warmup(10, (-8) ** (1 / 3))",
            "warmup() arguments cannot be computed: (-8) ** 0.333333 is not a real number "
            "at column 1 of 'warmup(10, (-8) ** (1 / 3))'",
        ),
        (
            "linear(0, 1e300 * 1e300, 100)",
            "linear() argument 'end' is inf, not a finite number "
            "at column 11 of 'linear(0, 1e300 * 1e300, 100)'",
        ),
        (
            "cyclical(0, 1, 10, 1e300 * 1e300 - 1e300 * 1e300)",
            "cyclical() argument 'ratio' is nan, not a finite number "
            "at column 20 of 'cyclical(0, 1, 10, 1e300 * 1e300 - 1e300 * 1e300)'",
        ),
    ],
)
def test_a_schedule_argument_that_is_not_a_real_finite_number_is_a_syntax_error(text, message):
    with pytest.raises(LossSyntaxError) as caught:
        parse_loss(text, file=FILE, key=KEY)
    column = message.rsplit(" at column ", 1)[1].split()[0]
    assert str(caught.value) == f"{FILE}:1:{column}: {KEY}: {message}"


def test_a_negative_number_to_a_fractional_power_is_an_evaluation_error():
    with pytest.raises(SpecError) as caught:
        evaluate(parse_loss("recon * gamma ** 0.5"), NUMBER_ENV, step=3)
    assert str(caught.value) == (
        "cannot evaluate loss 'recon * gamma ** 0.5' at step 3: (-3) ** 0.5 is not a real number"
    )
    assert evaluate(parse_loss("gamma ** 2"), NUMBER_ENV, step=3) == 9.0
    # on tensors, as in torch: nan where the base is negative
    value = evaluate(parse_loss("(kl - 1) ** 0.5"), TENSOR_ENV, step=3)
    assert value.isnan().tolist() == [True, False, True]


@pytest.mark.parametrize(
    ("text", "shown", "column"),
    [("kl\x0bkl", "\\x0b", 3), ("kl\u2028+ kl", "\\u2028", 3), ("\x85kl", "\\x85", 1)],
)
def test_an_unprintable_character_is_shown_escaped(text, shown, column):
    with pytest.raises(LossSyntaxError) as caught:
        parse_loss(text, file=FILE, key=KEY)
    assert one_line(caught.value) == (
        f"{FILE}:1:{column}: {KEY}: unexpected character '{shown}' in loss expression "
        f"at column {column} of {text.strip()!r}"
    )


def test_a_loss_of_numbers_alone_is_refused_where_it_trains_nothing(tmp_path):
    # before: networkx.NodeNotFound from lowering: the objective had no edge into the gradients
    path = tmp_path / "fuzz.toml"
    path.write_text(_spec_text("2 * 3"), encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        lower(load_spec(path))
    assert str(caught.value) == (
        f"{path}:{LOSS_LINE - 1}:2: objective.params: objective 'loss' claims module 'encoder', "
        "but no gradient of its loss '2 * 3' reaches it; fix: remove 'encoder' from params or "
        "add a term that depends on it"
    )


def test_the_spec_text_helper_round_trips():
    import tomllib

    text = 'a\x7f\x00"\\\u2028b'
    assert tomllib.loads(f"v = {toml_string(text)}")["v"] == text
    assert json.loads(json.dumps(text)) == text


def test_a_bound_beyond_float32_on_a_float32_tensor():
    # before: RuntimeError (value cannot be converted to type float without overflow); 1e39 is
    # +inf in float32, so the bound leaves every value as it is, in both back ends
    kl = torch.tensor([0.25, 3.0])
    for text in ("min(kl, 1e39)", "max(-1e39, kl)", "clamp(kl, -1e39, 1e39)"):
        tree = parse_loss(text)
        assert evaluate(tree, {"kl": kl}, step=0).tolist() == [0.25, 3.0]  # exact: copies
        source = to_python(tree, lambda name: name)
        assert eval(source, {"torch": torch}, {"kl": kl}).tolist() == [0.25, 3.0], source
    assert evaluate(parse_loss("min(kl, 1)"), {"kl": kl}, step=0).tolist() == [0.25, 1.0]
