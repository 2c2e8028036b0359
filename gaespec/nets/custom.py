"""Custom nets named by import path ("package.module:Name"), imported only when a model is built."""

from __future__ import annotations

import importlib
from typing import Any

from gaespec.errors import SpecError

FORM = "'package.module:Name'"


def import_object(path: str, *, file: str | None = None, key: str | None = None) -> Any:
    """The object at `path` ("package.module:Name", Name may be dotted); SpecError if not there."""
    module_name, colon, attr = path.partition(":") if isinstance(path, str) else ("", "", "")
    if not colon or not module_name or not attr or ":" in attr:
        raise SpecError(
            f"import path {path!r} is not of the form {FORM}",
            file=file,
            key=key,
            fix="write the module, a colon, then the name, as in 'mypkg.nets:Encoder'",
        )
    try:
        obj = importlib.import_module(module_name)
    except ImportError as err:
        raise SpecError(
            f"cannot import module {module_name!r} of {path!r}: {err}",
            file=file,
            key=key,
            fix="install the package or put its folder on PYTHONPATH",
        ) from None
    owner, where = module_name, f"module {module_name!r}"
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise SpecError(
                f"{where} has no attribute {part!r}",
                file=file,
                key=key,
                name=part,
                choices=[n for n in dir(obj) if not n.startswith("_")],
            )
        obj = getattr(obj, part)
        owner = f"{owner}.{part}"
        where = repr(owner)
    return obj
