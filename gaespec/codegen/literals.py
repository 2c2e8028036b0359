"""Spec strings on their way into emitted source: identifiers checked, values and text escaped.

Nothing from a spec reaches a generated file except through these functions.
"""

from __future__ import annotations

import keyword
import math
import textwrap
from typing import Any

from gaespec.errors import CodegenError


def identifier(name: object, what: str) -> str:
    """`name` if it is a Python identifier and no keyword, else CodegenError naming `what`."""
    # ASCII only: Python folds other letters (NFKC), so two spec names could be one in code
    if (
        not isinstance(name, str)
        or not name.isascii()
        or not name.isidentifier()
        or keyword.iskeyword(name)
    ):
        raise CodegenError(f"{what} {name!r} is not a Python identifier; it cannot name code")
    return name


def import_path(path: str, what: str) -> tuple[str, tuple[str, ...]]:
    """("package.module", ("Name", "Attr")) for "package.module:Name.Attr", every part checked."""
    module, _, attrs = path.partition(":")
    parts = module.split(".") + attrs.split(".")
    for part in parts:
        identifier(part, f"{what} {path!r}: part")
    return module, tuple(attrs.split("."))


def literal(value: Any, what: str) -> str:
    """Python source for a plain spec value: bool, int, finite float, str, list, tuple, dict."""
    match value:
        case bool() | int() | str():
            return repr(value)
        case float() if math.isfinite(value):
            return repr(value)
        case list() | tuple():
            items = [literal(v, what) for v in value]
            if isinstance(value, list):
                return f"[{', '.join(items)}]"
            return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
        case dict() if all(isinstance(k, str) for k in value):
            return "{" + ", ".join(f"{k!r}: {literal(v, what)}" for k, v in value.items()) + "}"
    raise CodegenError(
        f"{what} = {value!r} cannot be written as Python source",
        fix="use a number, a string, a boolean, or a list or table of them",
    )


def annotation(value: Any) -> str:
    """The type annotation of a constructor argument (a hyperparameter) whose default is `value`."""
    match value:
        case int():
            return "int"
        case float():
            return "float"
        case list() | tuple() if all(isinstance(v, int) for v in value):
            return "tuple[int, ...]"
    return "tuple[float, ...]"


def is_hyperparameter(value: Any) -> bool:
    """Whether a spec value is a number or a list of numbers (a constructor argument), rather
    than a choice that shapes the code (a string)."""
    number = (int, float)
    if isinstance(value, bool):
        return False
    if isinstance(value, number):
        return True
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(v, number) and not isinstance(v, bool) for v in value)
    )


def _escape(text: str, quote: str = "") -> str:
    # printable characters stay (β, —, ‖ read as written); anything that could end a line,
    # a comment or a string is written as an escape sequence
    out = []
    for ch in text:
        if ch == "\\" and quote:
            out.append("\\\\")
        elif ch == quote:
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])
    return "".join(out)


def _wrap(text: str, width: int) -> list[str]:
    # break at spaces only: an escape sequence (\\xNN, \\") is never split across lines
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)


def comment(text: str, width: int = 96) -> list[str]:
    """`text` as the bodies of `#` comment lines, wrapped at `width`: no character of it can end
    a comment."""
    return _wrap(_escape(str(text)), width)


def docstring(first: str, *paragraphs: str, indent: str = "    ", width: int = 92) -> str:
    """A triple-quoted docstring of the paragraphs, wrapped at `width`; every character that
    could end the string or a line is written as an escape."""
    texts = [_escape(str(p), quote='"') for p in (first, *paragraphs) if p]
    lines = [line for text in texts for line in (*_wrap(text, width), "")][:-1]
    if len(lines) == 1:
        return f'"""{lines[0]}"""'
    body = "\n".join(indent + line if i and line else line for i, line in enumerate(lines))
    return f'"""{body}\n{indent}"""'
