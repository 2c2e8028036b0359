"""From a lowered graph to what to make: each component's class and constructor arguments.

The composed model makes these; the code generator prints them. Both read this one place.
"""

from __future__ import annotations

import networkx as nx

from gaespec.components.registry import Construct, construct
from gaespec.nets.custom import import_object
from gaespec.spec.vocabulary import is_custom


class Wiring:
    """What a component's `arguments` may ask of the rest of the model.

    Attributes:
        spec: the resolved spec (for kinds and options).
        features: the width of the encoder's output. latent_dim: the width of the code.
    """

    def __init__(self, graph, features: int):
        self.spec = graph.spec
        self.features = features
        self.latent_dim = graph.spec.latent.dim
        self._graph = graph
        self._terms: dict[str, Construct] = {}

    def width(self, tensor: str) -> int:
        """The width of a flat tensor of the program, per sample."""
        return self._graph.shapes[tensor][0]

    def term(self, name: str) -> Construct:
        """What is made for the term `name` (made before any term that asks for it)."""
        return self._terms[name]

    def modules(self) -> dict[str, Construct]:
        """The posterior, the prior and the extra modules, in the order the model makes them."""
        spec = self.spec
        made = {
            "posterior": construct(
                "posterior", spec.latent.posterior.kind, spec.latent.posterior, self
            ),
            "prior": construct("prior", spec.prior.kind, spec.prior, self),
        }
        for name, decl in spec.modules.items():
            made[name] = construct("module", decl.kind, decl, self)
        return made

    def terms(self) -> dict[str, Construct]:
        """Every term, in the spec's order; a term is wired after the terms it refers to."""
        g = self._graph.graph
        order = [g.nodes[n]["name"] for n in nx.topological_sort(g) if g.nodes[n]["role"] == "term"]
        for name in order:
            decl = self.spec.terms[name]
            if is_custom(decl):  # a class of the user's package, imported only now
                key = f"terms.{name}.kind"
                cls = import_object(decl.kind, file=self.spec.origin(key), key=key)
                self._terms[name] = Construct(cls, decl.options)
            else:
                self._terms[name] = construct("term", decl.kind, decl, self)
        return {name: self._terms[name] for name in self.spec.terms}
