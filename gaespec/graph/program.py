"""The program of a model: calls of its modules and of built-in ops, in the order lowering fixed.

As torch.fx's Graph: each call names a callee, the tensors it reads and the tensors it writes.
Modules (which own parameters) are apart from the calls to them, so one module may be called on
several tensors with one set of weights. The composed model runs the calls with a short
interpreter (gaespec.compose); `encode`, `decode` and `sample` run slices of the same program.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from gaespec.errors import GraphError

# what the trainer hands the model besides the data, readable by any call of the program: the
# optimiser step, the epoch, and the size of the training set (for minibatch-weighted estimates)
RUNTIME = ("step", "epoch", "dataset_size")
# the annotation and default of each in a forward's signature
RUNTIME_ARGUMENTS = {"step": "int = 0", "epoch": "int = 0", "dataset_size": "int | None = None"}


def shared_values(term: str) -> str:
    """The tensor of term `term`'s values for each sample (k b), when another term reads them
    (the "." keeps it apart from every name a spec can give)."""
    return f"{term}.per_sample"


@dataclass(frozen=True)
class Call:
    """One step of the program.

    Attributes:
        callee: the module it calls (an attribute of the model), or a built-in op (`builtin`).
        reads: the tensors passed to it, in order; `modules`: modules passed after them (a
            term that calls a critic), so their weights stay in one place.
        writes: the tensors it returns (one value, or a tuple of as many).
        folded: the reads carry K samples first, (k b ...), folded into the batch around a call
            to a net that takes (n ...).
        term: the call computes a loss term (a batch mean) named by its one write.
        grad: the call lies between a tensor and one that a term differentiates by it: it runs
            with gradients enabled, in evaluation too.
        key: the spec key that asked for the call (a [calls] entry, a term), where a call that
            fails is reported; None for the default program's own calls.
        method: the callee's method to call instead of the callee itself: "per_sample", a
            term's values for each sample (k b), which another term reads (`shared_values`).
    """

    callee: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    modules: tuple[str, ...] = ()
    builtin: bool = False
    folded: bool = False
    term: bool = False
    grad: bool = False
    key: str | None = None
    method: str | None = None


@dataclass(frozen=True)
class Program:
    """Calls in a topological order, and the tensor of each role of `ROLES`.

    Attributes:
        samples: K, the number of posterior samples per input that the sampling op draws.
        grad_roots: the tensors some term differentiates by; a `grad` call that reads one
            reads it as gaespec.components.ops.differentiable makes it.
    """

    calls: tuple[Call, ...]
    roles: dict[str, str]
    samples: int = 1
    grad_roots: frozenset[str] = frozenset()
    _writers: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        writers: dict[str, int] = {}
        for i, call in enumerate(self.calls):
            for name in call.writes:
                if name in writers:
                    raise GraphError(f"internal: tensor '{name}' is written twice")
                writers[name] = i
        object.__setattr__(self, "_writers", writers)

    def __getitem__(self, role: str) -> str:
        return self.roles[role]

    @property
    def terms(self) -> tuple[Call, ...]:
        """The calls that compute loss terms, in run order."""
        return tuple(c for c in self.calls if c.term)

    def _upstream(self, targets: Iterable[str]) -> set[int]:
        """The indices of the calls that the tensors `targets` depend on."""
        upstream, todo = set(), list(targets)
        while todo:
            i = self._writers.get(todo.pop())
            if i is not None and i not in upstream:
                upstream.add(i)
                todo += self.calls[i].reads
        return upstream

    def between(self, source: str, target: str) -> tuple[Call, ...]:
        """The calls on the ways from tensor `source` to tensor `target`, in run order."""
        downstream, reached = set(), {source}
        for i, call in enumerate(self.calls):
            if reached & set(call.reads):
                downstream.add(i)
                reached |= set(call.writes)
        return tuple(self.calls[i] for i in sorted(downstream & self._upstream((target,))))

    def unread_terms(self, read: Iterable[str]) -> frozenset[str]:
        """The terms, and the per-sample values of terms, that nothing in `read` depends on:
        given the names the objectives' losses read, what is only logged."""
        needed = self._upstream(read)
        return frozenset(
            call.writes[0]
            for i, call in enumerate(self.calls)
            if (call.term or call.method) and i not in needed
        )

    def generative(self, given: str, wanted: str) -> tuple[Call, ...]:
        """The slice from role `given` to role `wanted` as `encode` and `decode` run it: for
        inference, so no call of it needs gradients."""
        calls = self.slice((self[given],), (self[wanted],))
        return tuple(replace(c, grad=False) for c in calls)

    def slice(self, given: tuple[str, ...], wanted: tuple[str, ...]) -> tuple[Call, ...]:
        """The calls, in run order, that compute `wanted` from `given` (and nothing else)."""
        needed: set[int] = set()
        todo = [w for w in wanted if w not in given]
        while todo:
            name = todo.pop()
            if name not in self._writers:
                raise GraphError(f"internal: no call writes '{name}' from {given}")
            i = self._writers[name]
            if i not in needed:
                needed.add(i)
                todo += [r for r in self.calls[i].reads if r not in given]
        return tuple(self.calls[i] for i in sorted(needed))
