"""The loss language: Python's own arithmetic as the reference, tensors, exact error messages,
printing back as a formula and as Python."""

import math
import subprocess
import sys

import pytest
import torch

from gaespec.errors import LossSyntaxError, SpecError
from gaespec.spec.loss import (
    Binary,
    Call,
    Name,
    Number,
    Unary,
    evaluate,
    free_names,
    parse_loss,
    to_formula,
    to_python,
)

a, b, c = 2.0, 3.0, 5.0
ENV = {"a": a, "b": b, "c": c}

# each expected value is Python evaluating the same text
ARITHMETIC = [
    ("1 + 2 * 3", 1 + 2 * 3),
    ("(1 + 2) * 3", (1 + 2) * 3),
    ("2 - 3 - 4", 2 - 3 - 4),
    ("2 - (3 - 4)", 2 - (3 - 4)),
    ("24 / 4 / 2", 24 / 4 / 2),
    ("24 / (4 / 2)", 24 / (4 / 2)),
    ("2 ** 3 ** 2", 2**3**2),
    ("(2 ** 3) ** 2", (2**3) ** 2),
    ("-2 ** 2", -(2**2)),
    ("(-2) ** 2", (-2) ** 2),
    ("2 ** -1", 2**-1),
    ("-a * b", -a * b),
    ("a * -b + c", a * -b + c),
    ("a - -b", a - -b),
    ("+a - b / c", +a - b / c),
    ("a ** b ** -c", a**b**-c),
    ("-a ** -b", -(a**-b)),
    ("--a", -(-a)),  # noqa: B002
    ("1e-3 * a + .5", 1e-3 * a + 0.5),
    ("2.5e2 / a ** 2", 2.5e2 / a**2),
    ("-(a + b) * c", -(a + b) * c),
    ("a / b * c", a / b * c),
    ("a - b + c", a - b + c),
    ("a * (b - c) ** 2", a * (b - c) ** 2),
    ("((a))", a),
    ("a*b+c", a * b + c),
]


@pytest.mark.parametrize(("text", "expected"), ARITHMETIC)
def test_precedence_and_associativity_match_python(text, expected):
    assert evaluate(parse_loss(text), ENV, step=0) == expected


@pytest.mark.parametrize(("text", "expected"), ARITHMETIC)
def test_formula_reads_back_equal(text, expected):
    expr = parse_loss(text)
    assert parse_loss(to_formula(expr)) == expr
    assert hash(parse_loss(to_formula(expr))) == hash(expr)


def test_tree_shape():
    assert parse_loss("recon + beta * kl") == Binary(
        "+", Name("recon"), Binary("*", Name("beta"), Name("kl"))
    )
    assert parse_loss("-a ** 2") == Unary("-", Binary("**", Name("a"), Number(2.0)))
    assert parse_loss("cyclical(0, 1, 1e3)") == Call(
        "cyclical", (Number(0.0), Number(1.0), Number(1000.0))
    )


@pytest.mark.parametrize(
    ("text", "formula"),
    [
        ("recon+beta*kl", "recon + beta * kl"),
        ("((a + b)) * c", "(a + b) * c"),
        ("(a - b) - c", "a - b - c"),
        ("a - (b - c)", "a - (b - c)"),
        ("-(a ** 2)", "-a ** 2"),
        ("(-a) ** 2", "(-a) ** 2"),
        ("2 ** (3 ** 2)", "2 ** 3 ** 2"),
        ("1e-3 * x + 2.50", "0.001 * x + 2.5"),
        ("abs(kl - linear(0., 25, 1e5))", "abs(kl - linear(0, 25, 100000))"),
    ],
)
def test_to_formula_is_canonical_with_fewest_parentheses(text, formula):
    assert to_formula(parse_loss(text)) == formula


def test_tensors():
    recon, kl = torch.tensor([1.0, 2.0]), torch.tensor([0.5, 4.0])
    value = evaluate(
        parse_loss("recon + beta * kl"), {"recon": recon, "kl": kl, "beta": 4.0}, step=0
    )
    assert torch.equal(value, torch.tensor([3.0, 18.0]))


def test_disentangled_beta_vae_loss_at_half_of_the_ramp():
    expr = parse_loss("recon + gamma * abs(kl - linear(0, 25, 100000))")
    env = {"recon": torch.ones(2), "kl": torch.tensor([10.0, 20.0]), "gamma": 1000.0}
    value = evaluate(expr, env, step=50_000)
    assert torch.equal(value, torch.tensor([2501.0, 7501.0]))


# exact on every CPU: abs, min, max and clamp only pick or negate one of their arguments
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abs(x)", [1.5, 0.0, 2.0]),
        ("min(x, 0)", [-1.5, 0.0, 0.0]),
        ("min(0.5, x)", [-1.5, 0.0, 0.5]),
        ("max(x, 0)", [0.0, 0.0, 2.0]),
        ("max(x, y)", [1.0, 1.0, 2.0]),
        ("min(x, y)", [-1.5, 0.0, 1.0]),
        ("clamp(x, -1, 1)", [-1.0, 0.0, 1.0]),
        ("clamp(x, y - 2, 1)", [-1.0, 0.0, 1.0]),
        ("clamp(0.5, x, y)", [0.5, 0.5, 1.0]),
    ],
)
def test_extrema_on_tensors(text, expected):
    env = {"x": torch.tensor([-1.5, 0.0, 2.0]), "y": torch.ones(3)}
    assert torch.equal(evaluate(parse_loss(text), env, step=0), torch.tensor(expected))


# torch's vectorised exp and log differ by an ulp between CPUs (AVX-512's log(exp(1)) is
# 0.99999994): a few float32 ulps of tolerance; the references are Python's float64 math
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sqrt(x * x)", [1.5, 0.0, 2.0]),
        ("sqrt(x + 2)", [math.sqrt(0.5), math.sqrt(2.0), 2.0]),
        ("exp(x * 0)", [1.0, 1.0, 1.0]),
        ("exp(x)", [math.exp(-1.5), 1.0, math.exp(2.0)]),
        ("log(exp(y))", [1.0, 1.0, 1.0]),
        ("log(x + 2)", [math.log(0.5), math.log(2.0), math.log(4.0)]),
    ],
)
def test_math_functions_on_tensors(text, expected):
    env = {"x": torch.tensor([-1.5, 0.0, 2.0]), "y": torch.ones(3)}
    value = evaluate(parse_loss(text), env, step=0)
    torch.testing.assert_close(value, torch.tensor(expected), rtol=1e-6, atol=1e-6)


# on Python floats: abs, min, max, clamp and the schedules' +, −, × and ÷ by powers of two are
# exact; exp, log and sqrt come from the platform's libm and are compared with a tolerance
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abs(-a)", 2.0),
        ("min(a, b)", 2.0),
        ("max(a, b)", 3.0),
        ("clamp(c, a, b)", 3.0),
        ("clamp(-c, a, b)", 2.0),
        ("warmup(4) + cyclical(0, 1, 8, 0.25)", 0.5 + 1.0),
        ("warmup(4, 2 * 3)", 3.0),
    ],
)
def test_extrema_and_schedules_on_floats(text, expected):
    value = evaluate(parse_loss(text), ENV, step=2)
    assert type(value) is float
    assert value == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("exp(0)", 1.0),
        ("exp(a)", math.exp(2.0)),
        ("log(1)", 0.0),
        ("log(c)", math.log(5.0)),
        ("sqrt(a * 8)", 4.0),
        ("sqrt(b)", math.sqrt(3.0)),
    ],
)
def test_math_functions_on_floats(text, expected):
    value = evaluate(parse_loss(text), ENV, step=2)
    assert type(value) is float
    torch.testing.assert_close(value, expected, rtol=1e-12, atol=1e-12)


def test_schedules_follow_the_step():
    expr = parse_loss("linear(0, 25, 100000)")
    assert [evaluate(expr, {}, step=s) for s in (0, 50_000, 100_000, 300_000)] == [
        0.0,
        12.5,
        25.0,
        25.0,
    ]


def test_free_names_exclude_functions():
    expr = parse_loss("recon + gamma * abs(kl - linear(0, 25, 100000)) + min(kl, tc) / -beta")
    assert free_names(expr) == frozenset({"recon", "gamma", "kl", "tc", "beta"})
    assert free_names(parse_loss("2 * warmup(10)")) == frozenset()


def test_to_python():
    def name(id):
        return f"v[{id!r}]"

    assert to_python(parse_loss("recon + beta * kl"), name) == "v['recon'] + v['beta'] * v['kl']"
    assert (
        to_python(parse_loss("recon + gamma * abs(kl - linear(0, 25, 1e5))"), name, step="i")
        == "v['recon'] + v['gamma'] * torch.abs(v['kl'] - linear(0.0, 25.0, 100000.0, step=i))"
    )
    assert (
        to_python(parse_loss("-(a - b) ** 2 / min(a, 2) + max(1, 2) * clamp(c, 0, a)"), name)
        == "-(v['a'] - v['b']) ** 2.0 / torch.minimum(v['a'], torch.as_tensor(2.0, "
        "dtype=(v['a']).dtype, device=(v['a']).device)) + max(1.0, 2.0)"
        " * torch.clamp(v['c'], torch.as_tensor(0.0, dtype=(v['c']).dtype, device=(v['c']).device),"
        " v['a'])"
    )


def test_to_python_uses_math_on_numbers_and_torch_on_tensors():
    def number(id):
        return id in {"beta", "gamma"}

    def python(text):
        return to_python(parse_loss(text), lambda id: id, number=number)

    assert python("exp(beta) * kl + log(kl)") == "math.exp(beta) * kl + torch.log(kl)"
    assert python("abs(beta - 1) + abs(kl)") == "abs(beta - 1.0) + torch.abs(kl)"
    assert python("min(beta, gamma) * max(kl, beta)") == (
        "min(beta, gamma) * torch.maximum(kl, torch.as_tensor(beta, dtype=kl.dtype, "
        "device=kl.device))"
    )
    assert python("clamp(beta, 0, 1) + clamp(kl, 0, gamma)") == (
        "min(max(beta, 0.0), 1.0) + torch.clamp(kl, torch.as_tensor(0.0, dtype=kl.dtype, "
        "device=kl.device), torch.as_tensor(gamma, dtype=kl.dtype, device=kl.device))"
    )
    assert python("sqrt(linear(0, 1, 10) + beta) * kl") == (
        "math.sqrt(linear(0.0, 1.0, 10.0, step=step) + beta) * kl"
    )


@pytest.mark.parametrize(
    "text",
    [
        "exp(beta) * kl + log(kl)",
        "abs(beta - 1) + abs(kl - 2)",
        "min(beta, gamma) * max(kl, beta) + min(kl, recon) + max(2, kl)",
        "clamp(beta, 0, 1) + clamp(kl, 0, gamma) + clamp(kl, recon, 9) + clamp(0.5, kl, recon)",
        "sqrt(linear(0, 1, 10) + beta) * kl + warmup(4) ** 2 - cyclical(0, 1, 4, 0.5)",
        "recon + kl / 2 ** 70 + 1e300 * kl",
    ],
)
def test_to_python_computes_what_evaluate_does(text):
    # numbers print as floats, as parsed: `kl / 2 ** 70` must not become an int overflow
    import math

    import torch

    from gaespec.spec.schedules import SCHEDULES

    env = {"beta": 0.7, "gamma": 2.5, "kl": torch.tensor(1.3), "recon": torch.tensor(0.2)}
    expr = parse_loss(text)
    source = to_python(expr, lambda id: id, number=lambda id: isinstance(env[id], float))
    scope = {"math": math, "torch": torch, **{s: SCHEDULES[s] for s in SCHEDULES}, **env}
    for step in (0, 3, 7):
        expected = evaluate(expr, env, step=step)
        # the test compiles the printed source on purpose: it is the code generator's output
        got = eval(source, {**scope, "step": step})  # noqa: S307
        assert torch.equal(torch.as_tensor(got), torch.as_tensor(expected))


def _syntax_error(text, **where):
    with pytest.raises(LossSyntaxError) as error:
        parse_loss(text, **where)
    return error.value


def _where(text, line, column):
    at = f"column {column}" if "\n" not in text else f"line {line} column {column}"
    return f"at {at} of {text.strip()!r}"


def test_syntax_error_is_one_line_and_shows_a_caret_in_detail():
    error = _syntax_error("recon + * kl", file="beta_vae.toml", key="objective.loss")
    assert (error.line, error.column) == (1, 9)
    assert str(error) == (
        "beta_vae.toml:1:9: objective.loss: unexpected '*' in loss expression "
        "at column 9 of 'recon + * kl'"
    )
    assert error.detail() == str(error) + "\n    recon + * kl\n            ^"


@pytest.mark.parametrize(
    ("text", "line", "column", "message", "caret"),
    [
        ("recon +", 1, 8, "unexpected end of loss expression", "    recon +\n           ^"),
        ("(a + b", 1, 7, "unexpected end of loss expression", "    (a + b\n          ^"),
        ("a b", 1, 3, "unexpected 'b' in loss expression", "    a b\n      ^"),
        ("a $ b", 1, 3, "unexpected character '$' in loss expression", "    a $ b\n      ^"),
        ("recon\n  + * kl", 2, 5, "unexpected '*' in loss expression", "      + * kl\n        ^"),
        (
            "f(a, b=1)",
            1,
            7,
            "unexpected character '=' in loss expression",
            "    f(a, b=1)\n          ^",
        ),
    ],
)
def test_syntax_errors(text, line, column, message, caret):
    error = _syntax_error(text)
    assert (error.line, error.column) == (line, column)
    assert str(error) == f"{message} {_where(text, line, column)}"
    assert error.context == caret


def test_empty_loss():
    assert str(_syntax_error("  ")) == 'empty loss expression; fix: write e.g. loss = "recon + kl"'


def test_unknown_function_names_the_closest():
    text = "recon + lineer(0, 25, 100000)"
    error = _syntax_error(text)
    assert error.suggestions == ["linear"]
    assert str(error) == (
        "unknown function 'lineer' in loss expression (known: abs, clamp, cyclical, exp, linear,"
        f" log, max, min, sqrt, warmup) {_where(text, 1, 9)}; closest valid choice: 'linear'"
    )
    assert error.context == "    recon + lineer(0, 25, 100000)\n            ^"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("linear(0, 25)", "linear() takes 3 arguments (start, end, steps), got 2"),
        ("abs(a, b)", "abs() takes 1 argument (x), got 2"),
        ("warmup()", "warmup() takes 1 or 2 arguments (steps, value=1.0), got 0"),
        (
            "cyclical(0, 1, 2, 0.5, 9)",
            "cyclical() takes 3 or 4 arguments (start, end, period, ratio=0.5), got 5",
        ),
    ],
)
def test_wrong_number_of_arguments(text, message):
    error = _syntax_error(text)
    assert str(error) == f"{message} {_where(text, 1, 1)}"
    assert error.context == f"    {text}\n    ^"


def test_schedule_arguments_must_be_constant():
    text = "recon + linear(0, beta, 100) * kl"
    error = _syntax_error(text)
    assert (error.line, error.column) == (1, 19)
    assert str(error) == (
        f"linear() argument 'end' must be a constant number, got 'beta' {_where(text, 1, 19)}"
    )
    assert error.context == "    recon + linear(0, beta, 100) * kl\n                      ^"


def test_schedule_arguments_are_checked_when_parsed():
    text = "warmup(-2 * 5)"
    assert str(_syntax_error(text)) == f"warmup() steps must be > 0, got -10 {_where(text, 1, 1)}"


def test_unknown_name_when_evaluated():
    with pytest.raises(SpecError) as error:
        evaluate(parse_loss("recon + kll"), {"recon": 1.0, "kl": 2.0}, step=0)
    assert str(error.value) == (
        "loss expression refers to unknown name 'kll'; closest valid choice: 'kl'"
    )


def test_import_does_not_import_torch():
    code = "import sys, gaespec.spec.loss; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout == "False\n"
