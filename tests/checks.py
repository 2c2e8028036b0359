"""Checks several test modules share: one-line errors, nested states, TOML text of any string."""

from __future__ import annotations

import torch

from gaespec.errors import GaespecError


def one_line(error: GaespecError) -> str:
    text = str(error)
    assert len(text.splitlines()) == 1, repr(text)
    return text


def assert_same_state(a, b, at="state"):
    """Nested states equal: tensors bit for bit (the same arithmetic redone), the rest by ==."""
    assert type(a) is type(b), at
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b), at
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), at
        for key in a:
            assert_same_state(a[key], b[key], f"{at}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), at
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_state(x, y, f"{at}.{i}")
    else:
        assert a == b, at


def toml_string(text: str) -> str:
    """A TOML basic string holding `text`, every non-printable character escaped."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable() and char != "\x7f":
            out.append(char)
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def nodes(data, at=()):
    """Every (path, value) in nested tables and arrays, the root first."""
    yield at, data
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for key, value in items:
        yield from nodes(value, (*at, key))
