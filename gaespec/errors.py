"""The one root error of gaespec and its named subclasses: each says where, what, and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The known names nearest to `name`, best first (empty when nothing is close)."""
    return difflib.get_close_matches(str(name), sorted(set(choices)), n=n, cutoff=0.5)


def _escaped(text: str) -> str:
    """`text` with its unprintable characters (line breaks, terminal escapes) written as escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class GaespecError(Exception):
    """Root of every error gaespec raises on bad input; the CLI prints it as one line."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        line: int | None = None,
        column: int | None = None,
        choices: Iterable[str] | None = None,
        name: str | None = None,
        fix: str | None = None,
        context: str | None = None,
    ):
        self.message = message
        self.file = None if file is None else str(file)
        self.key = key
        self.line = line
        self.column = column
        self.name = name
        self.choices = list(choices) if choices is not None else None
        self.suggestions = closest(name, self.choices) if name is not None and self.choices else []
        self.fix = fix
        self.context = context
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        if self.key:
            where += f"{self.key}: "
        text = where + self.message
        if self.suggestions:
            text += "; closest valid choice: " + ", ".join(f"'{s}'" for s in self.suggestions)
        if self.fix:
            text += f"; fix: {self.fix}"
        # names, keys and paths from a spec or a run folder may hold any character
        return _escaped(text)

    def detail(self) -> str:
        """The one-line message, then the offending text with a caret under the fault, if any."""
        return str(self) + (f"\n{self.context}" if self.context else "")


class SpecError(GaespecError):
    """A spec file that cannot be loaded, parsed or validated."""


class GraphError(SpecError):
    """A spec that lowers to a graph that does not hold together (names, cycles, shapes)."""


class LossSyntaxError(GraphError):
    """A `loss = "..."` expression that the loss grammar rejects."""


class DataError(GaespecError):
    """Data that cannot be loaded or does not fit the model (rank, NaN, range)."""


class TrainingError(GaespecError):
    """A training run that cannot go on (a non-finite loss, a bad optimiser name)."""


class RunError(GaespecError):
    """A run directory that is missing, incomplete or not a gaespec run."""


class SamplerError(GaespecError):
    """A sampler that cannot be made, fitted or drawn from (unknown name, too few codes)."""


class MetricError(GaespecError):
    """A metric that cannot be computed: no Inception network, too few images, a bad file."""


class BenchError(GaespecError):
    """A benchmark that cannot be planned or run (a bad grid file, an unknown model or task)."""


class CodegenError(GaespecError):
    """A spec the code generator cannot write as source, or a generated file out of date."""
