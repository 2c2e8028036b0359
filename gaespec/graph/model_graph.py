"""The ModelGraph: the compiler's IR, a networkx DiGraph of tensors, modules, terms and objectives.

Node ids are "role:name" (`tensor:z`, `module:encoder`, `term:kl`, `param:beta`,
`schedule:warm`, `objective:loss`); an edge carries `detached=True` where gradients stop.
Builder and code generator both read this object; nothing reads the spec behind its back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx

from gaespec.graph.program import Program
from gaespec.spec.loss import free_names
from gaespec.spec.schema import Spec


def node(role: str, name: str) -> str:
    """The id of a node: "role:name"."""
    return f"{role}:{name}"


@dataclass(frozen=True)
class Objective:
    """A lowered objective: its parsed loss, the modules it trains, its optimiser and scheduler."""

    name: str
    loss: Any  # gaespec.spec.loss.Expr
    params: tuple[str, ...]
    optimizer: Any
    scheduler: Any
    key: str


@dataclass(frozen=True)
class ModelGraph:
    """A validated model: the spec, its graph, the stage order, tensor shapes and objectives.

    Attributes:
        stages: the transform modules of the forward pass after the posterior, in run order.
        shapes: per-sample shape of every tensor whose shape is known before building.
        program: the calls the model runs, in order (gaespec.graph.program).
    """

    spec: Spec
    graph: nx.DiGraph
    stages: tuple[str, ...]
    shapes: dict[str, tuple[int, ...] | None]
    objectives: tuple[Objective, ...]
    program: Program

    @property
    def name(self) -> str:
        """The model's name."""
        return self.spec.model.name

    @property
    def read(self) -> set[str]:
        """Every name (term, param, schedule) some objective's loss reads."""
        return set().union(*(free_names(o.loss) for o in self.objectives))

    @property
    def logged_terms(self) -> frozenset[str]:
        """The terms (and terms' values for each sample) that no objective's loss depends on:
        only logged, so computed without a graph (by the composed model and by the emitted file
        alike)."""
        return self.program.unread_terms(self.read)

    def nodes(self, role: str) -> list[str]:
        """Names of the nodes of one role, in insertion order."""
        return [d["name"] for _, d in self.graph.nodes(data=True) if d["role"] == role]
