"""Weights as functions of the training step: linear KL annealing, warm-up, and the cyclical
annealing of Fu et al. 2019, "Cyclical Annealing Schedule" (NAACL, arXiv:1903.10145).

Each schedule is a pure function whose parameters come first and whose `step` is keyword-only;
`SCHEDULES` knows every one by name, with its parameter names and defaults.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Schedule:
    """A schedule known to the loss language.

    Attributes:
        name: how a loss calls it, e.g. "linear".
        fn: the function: parameters positionally, then `step=` as a keyword.
        params: the parameter names in call order, `step` excluded.
        defaults: the default values of the optional trailing parameters.
    """

    name: str
    fn: Callable[..., float]
    params: tuple[str, ...]
    defaults: Mapping[str, float] = field(default_factory=dict, hash=False)

    @property
    def min_args(self) -> int:
        """How many arguments a call must give."""
        return len(self.params) - len(self.defaults)

    @property
    def max_args(self) -> int:
        """How many arguments a call may give."""
        return len(self.params)

    @property
    def signature(self) -> str:
        """The parameters as a call shows them, e.g. "start, end, period, ratio=0.5"."""
        return ", ".join(
            f"{p}={self.defaults[p]}" if p in self.defaults else p for p in self.params
        )

    def __call__(self, *args: float, step: int) -> float:
        """The schedule's value at `step`."""
        return self.fn(*args, step=step)


SCHEDULES: dict[str, Schedule] = {}


def schedule(fn: Callable[..., float]) -> Callable[..., float]:
    """Register `fn` under its own name; its parameters before the keyword-only `step` are the
    schedule's."""
    if fn.__name__ in SCHEDULES:
        raise ValueError(f"schedule '{fn.__name__}' is registered twice")
    parameters = inspect.signature(fn).parameters.values()
    positional = [p for p in parameters if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    SCHEDULES[fn.__name__] = Schedule(
        name=fn.__name__,
        fn=fn,
        params=tuple(p.name for p in positional),
        defaults={p.name: p.default for p in positional if p.default is not p.empty},
    )
    return fn


def _positive(func: str, name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{func}() {name} must be > 0, got {value:g}")


@schedule
def linear(start: float, end: float, steps: float, *, step: int) -> float:
    """From `start` at step 0 to `end` at `steps`, linearly, then `end`."""
    _positive("linear", "steps", steps)
    return start + (end - start) * min(step / steps, 1.0)


@schedule
def cyclical(start: float, end: float, period: float, ratio: float = 0.5, *, step: int) -> float:
    """Every `period` steps: from `start` to `end` over the first `ratio` of the cycle, then
    `end` (Fu et al. 2019)."""
    _positive("cyclical", "period", period)
    if not 0 < ratio <= 1:
        raise ValueError(f"cyclical() ratio must be in (0, 1], got {ratio:g}")
    t = (step % period) / period
    return start + (end - start) * min(t / ratio, 1.0)


@schedule
def warmup(steps: float, value: float = 1.0, *, step: int) -> float:
    """From 0 at step 0 to `value` at `steps`, linearly, then `value`."""
    _positive("warmup", "steps", steps)
    return value * min(step / steps, 1.0)
