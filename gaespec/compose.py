"""ModelGraph → ComposedModel: a torch.nn.Module that runs the graph's program and returns every
loss term and each objective's total.

The program (gaespec.graph.program) is a list of calls; `forward` runs them all with a short
interpreter, and `encode`, `decode` and `sample` run slices of it. Every kind comes from the
implementation registry.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from os import PathLike

import torch
from einops import rearrange
from torch import nn

from gaespec import nets
from gaespec.components.ops import builtin_op, differentiable, per_sample
from gaespec.components.wiring import Wiring, spec_key
from gaespec.errors import GaespecError, GraphError
from gaespec.graph.lower import lower
from gaespec.graph.model_graph import ModelGraph
from gaespec.graph.program import RUNTIME, Call
from gaespec.inference import evaluating
from gaespec.spec.load import load_spec
from gaespec.spec.loss import compile_loss
from gaespec.spec.schedules import SCHEDULES
from gaespec.spec.schema import Spec


@dataclass
class ModelOutput:
    """What a forward pass gives: each term and each objective's total (scalars), and the tensors.

    Attributes:
        terms: every term of the spec, by name, each a batch mean; a term that no objective
            reads (logged only) carries no gradient.
        losses: each objective's total, by objective name.
        tensors: every tensor the program wrote, by name (samples first: k b ...).
    """

    terms: dict[str, torch.Tensor]
    losses: dict[str, torch.Tensor]
    tensors: dict[str, object] = field(repr=False)

    @property
    def loss(self) -> torch.Tensor:
        """The first objective's total."""
        return next(iter(self.losses.values()))


@dataclass(frozen=True, slots=True)
class _Bound:
    """A call of the program with what it names looked up: `fn` (the callee, or per_sample
    around it for a folded call) takes its `reads` and then `modules`, under `grad`
    (torch.enable_grad or torch.no_grad; None: the mode as it is), `roots` made differentiable
    first; it returns `write` (None: a tuple of the call's writes)."""

    call: Call
    fn: Callable
    reads: tuple[str, ...]
    modules: tuple[nn.Module, ...]
    grad: Callable[[], object] | None
    roots: tuple[str, ...]
    write: str | None


def _dry_run(net: nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    """One forward pass of a zero batch of two, in eval mode, to learn a custom net's output."""
    with evaluating(net):
        return net(torch.zeros(2, *shape))


class ComposedModel(nn.Module):
    """A generative autoencoder assembled from a ModelGraph; `model(x)` returns a ModelOutput."""

    def __init__(
        self, graph: ModelGraph, encoder: nn.Module | None = None, decoder: nn.Module | None = None
    ):
        super().__init__()
        spec = graph.spec
        self.graph = graph
        self.samples = graph.program.samples
        self.encoder = (
            encoder
            if encoder is not None
            else nets.make_encoder(
                spec.encoder.arch,
                spec.input.shape,
                spec.encoder.options,
                file=spec.origin("encoder.arch"),
                key="encoder.arch",
            )
        )
        wiring = Wiring(graph, self._features(spec, custom=encoder is not None))
        for name, made in wiring.modules().items():
            self.add_module(name, self._make(made, spec_key(spec, name)))
        code = graph.shapes[spec.decoder.input]
        code = code[0] if code is not None else spec.latent.dim
        self.decoder = (
            decoder
            if decoder is not None
            else nets.make_decoder(
                spec.decoder.arch,
                code,
                spec.input.shape,
                spec.decoder.options,
                file=spec.origin("decoder.arch"),
                key="decoder.arch",
            )
        )
        self._check_decoder(spec, code, custom=decoder is not None)
        self.terms = {
            name: self._make(made, spec_key(spec, name)) for name, made in wiring.terms().items()
        }
        self._logged = graph.logged_terms
        self._term_names = tuple(call.writes[0] for call in graph.program.terms)
        self._data = graph.program["data"]
        self._losses = tuple((o.name, compile_loss(o.loss)) for o in graph.objectives)
        for name, term in self.terms.items():
            if isinstance(term, nn.Module) and any(True for _ in term.parameters()):
                raise spec.error(
                    f"term '{name}' owns parameters, which no objective could train",
                    f"terms.{name}.kind",
                    fix="make the parameters a module of [modules] and give it to the term "
                    "(modules = [...])",
                )

    def _make(self, made, key: str):
        """A component made; a class of the user's that refuses its arguments says where."""
        try:
            return made.make(lambda name: getattr(self, name))
        except TypeError as error:
            if made.cls.__module__.startswith("gaespec."):
                raise
            raise self.graph.spec.error(
                f"{made.cls.__name__} cannot be made with {made.arguments}: {error}",
                f"{key}.kind",
                fix="give the options its constructor takes",
            ) from None

    def _features(self, spec: Spec, custom: bool) -> int:
        known = None if custom else self.graph.shapes.get(self.graph.program["features"])
        if known is not None:  # a built-in net: its shape rule already said
            return known[0]
        out = _dry_run(self.encoder, tuple(spec.input.shape))
        if out.dim() != 2:
            raise spec.error(
                f"the encoder must map a batch (b, {'×'.join(map(str, spec.input.shape))}) to "
                f"features (b, f), but it gave shape {tuple(out.shape)}",
                "encoder.arch",
            )
        return int(out.shape[1])

    def _check_decoder(self, spec: Spec, code: int, custom: bool) -> None:
        if not custom and not nets.is_import_path(spec.decoder.arch):
            return
        out = _dry_run(self.decoder, (code,))
        if tuple(out.shape[1:]) != tuple(spec.input.shape):
            raise spec.error(
                f"the decoder must map codes (b, {code}) to (b, "
                f"{'×'.join(map(str, spec.input.shape))}), but it gave shape {tuple(out.shape)}",
                "decoder.arch",
            )

    # -- the program --------------------------------------------------------------------------

    def __setattr__(self, name: str, value) -> None:
        if name != "training":  # a module or a term replaced: its bound calls are stale
            self.__dict__.pop("_plans", None)
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        self.__dict__.pop("_plans", None)
        super().__delattr__(name)

    def add_module(self, name: str, module: nn.Module | None) -> None:
        self.__dict__.pop("_plans", None)
        super().add_module(name, module)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_plans", None)  # bound to these modules; a copy binds its own
        return state

    def _bind(self, call: Call) -> _Bound:
        """`call` with its callee and modules looked up and its grad mode chosen, once."""
        if call.builtin:
            callee = functools.partial(builtin_op(call.callee), self)
        else:
            terms = self.terms
            callee = terms[call.callee] if call.callee in terms else getattr(self, call.callee)
            callee = getattr(callee, call.method) if call.method else callee
        # gradients on for a call that a term differentiates through, off for a term (or a
        # term's values) only logged (the values are the same, their graph would be built for
        # nothing), else as it is
        if call.grad:
            grad = torch.enable_grad
        elif call.writes[0] in self._logged:
            grad = torch.no_grad
        else:
            grad = None
        roots = self.graph.program.grad_roots
        return _Bound(
            call,
            functools.partial(per_sample, callee) if call.folded else callee,
            call.reads,
            tuple(getattr(self, m) for m in call.modules),
            grad,
            tuple(roots.intersection(call.reads)) if call.grad else (),
            call.writes[0] if len(call.writes) == 1 else None,
        )

    def _plan(self, key: tuple[str, str] | None) -> tuple[_Bound, ...]:
        """The bound calls of the whole program (key None) or of the slice from role key[0] to
        role key[1], bound on first use and again after a module or a term is replaced."""
        plans = self.__dict__.setdefault("_plans", {})
        plan = plans.get(key)
        if plan is None:
            program = self.graph.program
            calls = program.calls if key is None else program.generative(*key)
            plan = plans[key] = tuple(self._bind(call) for call in calls)
        return plan

    def interpret(self, calls: tuple[Call, ...], t: dict[str, object]) -> dict[str, object]:
        """Run `calls` in order on the tensors in `t` (by name), adding what each writes."""
        return self._run(tuple(self._bind(call) for call in calls), t)

    def _run(self, plan: tuple[_Bound, ...], t: dict[str, object]) -> dict[str, object]:
        """Run the bound calls of `plan` in order on the tensors in `t`, adding what each
        writes. A call that the spec asked for and that fails in torch is named."""
        bound = None
        try:
            for bound in plan:
                if bound.grad is None:
                    out = bound.fn(*[t[n] for n in bound.reads], *bound.modules)
                else:
                    with bound.grad():
                        for name in bound.roots:
                            t[name] = differentiable(t[name])
                        out = bound.fn(*[t[n] for n in bound.reads], *bound.modules)
                if bound.write is not None:
                    t[bound.write] = out
                else:
                    t.update(zip(bound.call.writes, out, strict=True))
        except (TypeError, ValueError, RuntimeError, IndexError) as error:
            if bound is None or bound.call.key is None:  # the default program's: gaespec's fault
                raise
            raise self._call_error(bound.call, error) from error
        return t

    def _call_error(self, call: Call, error: Exception) -> GaespecError:
        """A call that the spec asked for failed in torch: say which, on what, and why."""
        reads = ", ".join(f"'{n}'" for n in (*call.reads, *call.modules)) or "nothing"
        return self.graph.spec.error(
            f"calling {'term' if call.term else 'op' if call.builtin else 'module'} "
            f"'{call.callee}' on {reads} failed: {type(error).__name__}: {error}",
            call.key,
            fix="check the tensors it reads (their number and shapes) and per_sample",
        )

    def _slice(self, given: str, wanted: str, value) -> object:
        """Run the part of the program that computes role `wanted` from role `given`."""
        program = self.graph.program
        return self._run(self._plan((given, wanted)), {program[given]: value})[program[wanted]]

    def encode(self, x: torch.Tensor):
        """q(z|x) for a batch x (b ...): a distribution with `.mean` (b d) and `rsample(k)`."""
        return self._slice("data", "posterior", x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """x̂ (b ...) for codes z (b d) of the posterior's space, through the stages the spec
        puts between the code and the decoder (a codebook quantises it)."""
        return self._slice("code", "reconstruction", rearrange(z, "b d -> 1 b d"))[0]

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """x̂ from the posterior mean: decode(encode(x).mean)."""
        return self.decode(self.encode(x).mean)

    def sample(self, n: int) -> torch.Tensor:
        """n images decoded from prior samples."""
        p = next(self.parameters())
        return self.decode(self.prior().sample(n, device=p.device, dtype=p.dtype))

    def values(self, terms: dict, *, step: int, epoch: int) -> dict:
        """Names of the loss language bound to values: terms, params, schedules at step/epoch."""
        env: dict[str, object] = dict(self.graph.spec.params)
        for name, schedule in self.graph.spec.schedules.items():
            at = step if schedule.unit == "step" else epoch
            env[name] = SCHEDULES[schedule.kind](*schedule.args, step=at)
        env.update(terms)
        return env

    def forward(
        self, x: torch.Tensor, *, step: int = 0, epoch: int = 0, dataset_size: int | None = None
    ) -> ModelOutput:
        """Every term and each objective's total for a batch x (b ...) at optimiser step `step`
        of `epoch`, with `dataset_size` training examples in all (for the terms that read it)."""
        t = {self._data: x}
        t.update(zip(RUNTIME, (step, epoch, dataset_size), strict=True))
        t = self._run(self._plan(None), t)
        terms = {name: t[name] for name in self._term_names}
        env = self.values(terms, step=step, epoch=epoch)
        losses = {name: loss(env, step=step) for name, loss in self._losses}
        return ModelOutput(terms, losses, t)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Each objective's parameters, by objective name."""
        return {
            o.name: [p for m in o.params for p in getattr(self, m).parameters()]
            for o in self.graph.objectives
        }


def build(
    spec_or_graph: Spec | ModelGraph | str | PathLike,
    *,
    encoder: nn.Module | None = None,
    decoder: nn.Module | None = None,
) -> ComposedModel:
    """A ComposedModel for a spec (lowered and validated first) or an already lowered graph.

    A user's own encoder ((b ...) → (b f)) or decoder ((b d) → (b ...)) replaces the spec's net.
    """
    if isinstance(spec_or_graph, (str, PathLike)):
        spec_or_graph = load_spec(spec_or_graph)
    if not isinstance(spec_or_graph, (Spec, ModelGraph)):
        raise GraphError(
            f"build() takes a Spec, a ModelGraph or a spec path, not {type(spec_or_graph).__name__}"
        )
    given = frozenset(
        n for n, net in (("encoder", encoder), ("decoder", decoder)) if net is not None
    )
    graph = (
        spec_or_graph
        if isinstance(spec_or_graph, ModelGraph)
        else lower(spec_or_graph, given=given)
    )
    return ComposedModel(graph, encoder=encoder, decoder=decoder)
