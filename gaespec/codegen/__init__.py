"""The code generator: ModelGraph → one standalone PyTorch file, through the jinja2 templates.

`emit(spec)` gives the source of `generated/<name>.py`; `write` and `stale` are what
`gaespec build` and `gaespec build --check` run.
"""

from gaespec.codegen.emit import emit
from gaespec.codegen.files import stale, write

__all__ = ["emit", "stale", "write"]
