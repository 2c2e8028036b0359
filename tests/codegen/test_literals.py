"""Spec strings on their way into source: identifiers checked, values and free text escaped."""

from __future__ import annotations

import ast
import datetime

import pytest

from gaespec.codegen.literals import (
    annotation,
    comment,
    docstring,
    identifier,
    import_path,
    is_hyperparameter,
    literal,
)
from gaespec.errors import CodegenError

HOSTILE = [
    'x"""\nimport os\nos.system("echo pwned")\n"""',
    "a\\",
    'ends with a quote"',
    "line\rbreak and \u2028 separator and \x0c form feed and \x00 nul",
    "'''; import os; '''",
    "# not a comment\n# ok",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_docstring_holds_exactly_the_text(text):
    source = f"def f():\n    {docstring(text)}\n"
    tree = ast.parse(source)
    assert ast.get_docstring(tree.body[0], clean=False) == text
    assert len(tree.body) == 1 and len(tree.body[0].body) == 1


@pytest.mark.parametrize("text", HOSTILE)
def test_a_comment_cannot_end(text):
    lines = [f"# {line}" for line in comment(text)]
    source = "\n".join(lines) + "\nvalue = 1\n"
    tree = ast.parse(source)
    assert [type(s).__name__ for s in tree.body] == ["Assign"]
    assert source.count("\n") == len(lines) + 1


@pytest.mark.parametrize("width", range(80, 100))
def test_wrapping_never_splits_an_escape(width):
    for hostile in ["\\x", "\x85", '"', "\\", "\\N{", "\n", "\u2028"]:
        text = "a" * width + hostile + "b" * 10 + " " + "c" * width + hostile
        source = f"def f():\n    {docstring(text, 'and ' + text)}\n"
        tree = ast.parse(source)
        assert hostile in ast.get_docstring(tree.body[0], clean=False)
        lines = [f"# {line}" for line in comment(text)]
        assert ast.parse("\n".join(lines) + "\n").body == []


def test_long_text_is_wrapped():
    words = "word " * 60
    assert all(len(line) <= 96 for line in comment(words))
    doc = docstring(words, "reference " * 20)
    assert all(len(line) <= 96 for line in doc.splitlines())
    assert doc.endswith('\n    """')


@pytest.mark.parametrize(
    ("value", "source"),
    [
        (True, "True"),
        (3, "3"),
        (0.25, "0.25"),
        ('it\'s "quoted"', "'it\\'s \"quoted\"'"),
        ([1, 2], "[1, 2]"),
        ((7,), "(7,)"),
        ({"a": [1.5, "b"]}, "{'a': [1.5, 'b']}"),
    ],
)
def test_literal(value, source):
    assert literal(value, "encoder.x") == source
    assert ast.literal_eval(source) == value


@pytest.mark.parametrize("value", [float("inf"), float("nan"), datetime.date(2024, 1, 1), {1: 2}])
def test_literal_refuses_what_is_no_plain_value(value):
    with pytest.raises(CodegenError) as error:
        literal(value, "encoder.x")
    assert str(error.value).startswith(f"encoder.x = {value!r} cannot be written as Python source")


def test_identifier_and_import_path():
    assert identifier("beta", "param") == "beta"
    for bad in ["class", "a b", "x;y", "1x", ""]:
        with pytest.raises(CodegenError, match="is not a Python identifier"):
            identifier(bad, "param")
    assert import_path("pkg.nets:Enc.Inner", "encoder.arch") == ("pkg.nets", ("Enc", "Inner"))
    with pytest.raises(CodegenError) as error:
        import_path("os:system; import sys", "encoder.arch")
    assert str(error.value) == (
        "encoder.arch 'os:system; import sys': part 'system; import sys' is not a Python "
        "identifier; it cannot name code"
    )


def test_hyperparameters_are_numbers():
    assert is_hyperparameter(0.5) and is_hyperparameter(3) and is_hyperparameter([64, 32])
    assert not is_hyperparameter("sigmoid") and not is_hyperparameter(True)
    assert not is_hyperparameter([]) and not is_hyperparameter(["a"])
    assert annotation((64, 32)) == "tuple[int, ...]" and annotation(0.5) == "float"
