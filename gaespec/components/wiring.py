"""From a lowered graph to what to make: each component's class and constructor arguments.

The composed model makes these; the code generator prints them. Both read this one place.
"""

from __future__ import annotations

from gaespec.components.registry import Construct, construct
from gaespec.nets.custom import import_object
from gaespec.spec.vocabulary import is_custom


def spec_key(spec, name: str) -> str:
    """The spec table that declares the made component `name` (a net, the posterior, the prior,
    an extra module or a term), where its options sit and its faults are reported."""
    if name in ("encoder", "decoder", "prior"):
        return name
    if name == "posterior":
        return "latent.posterior"
    return f"modules.{name}" if name in spec.modules else f"terms.{name}"


class Wiring:
    """What a component's `arguments` may ask of the rest of the model.

    Attributes:
        spec: the resolved spec (for kinds and options).
        features: the width of the encoder's output. latent_dim: the width of the code.
        input_shape: the shape of one input (c h w).
    """

    def __init__(self, graph, features: int):
        self.spec = graph.spec
        self.features = features
        self.latent_dim = graph.spec.latent.dim
        self.input_shape = tuple(graph.spec.input.shape)
        self._graph = graph

    def width(self, tensor: str) -> int:
        """The width of a flat tensor of the program, per sample."""
        return self._graph.shapes[tensor][0]

    def modules(self) -> dict[str, Construct]:
        """The posterior, the prior and the extra modules, in the order the model makes them."""
        spec = self.spec
        made = {
            "posterior": self._construct("posterior", spec.latent.posterior, self._head()),
            "prior": self._construct("prior", spec.prior, {"latent_dim": self.latent_dim}),
        }
        for name, decl in spec.modules.items():
            made[name] = self._construct("module", decl, {}, name)
        return made

    def _head(self) -> dict:
        return {"features": self.features, "latent_dim": self.latent_dim}

    def _construct(self, role: str, decl, given: dict, name: str | None = None) -> Construct:
        """The registered kind's Construct; a class of the user's package (imported only now)
        gets what gaespec gives its role (`given`), then the spec's options."""
        if not is_custom(decl):
            return construct(role, decl.kind, decl, self)
        key = f"{spec_key(self.spec, name or role)}.kind"
        cls = import_object(decl.kind, file=self.spec.origin(key), key=key)
        return Construct(cls, {**given, **decl.options})

    def terms(self) -> dict[str, Construct]:
        """Every term, in the spec's order."""
        return {
            name: self._construct("term", decl, {}, name) for name, decl in self.spec.terms.items()
        }
