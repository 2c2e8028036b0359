"""Lowering: Spec → ModelGraph, and the checks that need the whole graph.

Checks: every name resolves (closest matches offered), no cycle, every objective reaches the
parameters it claims through gradients, every trainable module is trained, each component fits
the rest of the spec (its `check`), schedules are well formed, shapes agree.
"""

from __future__ import annotations

from dataclasses import replace

import networkx as nx

from gaespec.errors import LossSyntaxError
from gaespec.graph.model_graph import ModelGraph, Objective, node
from gaespec.graph.program import RUNTIME, Call, Program, shared_values
from gaespec.graph.shapes import infer_shapes
from gaespec.spec.loss import free_names, parse_loss, to_formula
from gaespec.spec.schedules import SCHEDULES
from gaespec.spec.schema import MODEL_ATTRIBUTES, RESERVED, Spec
from gaespec.spec.vocabulary import is_custom


def _objective_key(spec: Spec, index: int) -> str:
    return "objective" if spec.objective is not None else f"objectives.{index}"


def _check_names(spec: Spec) -> None:
    """User names must not clash with each other or with the pipeline's own names."""
    seen: dict[str, str] = {}
    for table in ("modules", "terms", "params", "schedules", "calls"):
        for name in getattr(spec, table):
            key = f"{table}.{name}"
            if name in RESERVED:
                raise spec.error(f"'{name}' is a name the pipeline uses; choose another", key)
            if table == "modules" and (name.startswith("_") or name in MODEL_ATTRIBUTES):
                raise spec.error(
                    f"module name '{name}' is taken by the model itself (torch.nn.Module or "
                    "gaespec); choose another",
                    key,
                )
            if name in seen:
                raise spec.error(f"'{name}' is already defined at {seen[name]}", key)
            seen[name] = key
    for name, schedule in spec.schedules.items():
        _check_schedule(spec, name, schedule)
    for name, module in spec.modules.items():
        for output in module.outputs():
            key = f"modules.{name}.output"
            if output in RESERVED or output in spec.modules:
                raise spec.error(f"output '{output}' is a name already in use; choose another", key)
            if output in seen:
                raise spec.error(f"output '{output}' is already defined at {seen[output]}", key)
            seen[output] = key
    names = [o.name for o in spec.all_objectives]
    for i, name in enumerate(names):
        key = f"{_objective_key(spec, i)}.name"
        if names.index(name) != i:
            raise spec.error(f"two objectives are called '{name}'", key)
        if name in spec.terms:
            raise spec.error(
                f"objective '{name}' has the name of a term; metrics need distinct names", key
            )


def _check_components(spec: Spec) -> None:
    """Each posterior, prior and extra module fits the rest of the spec (its `check`); the
    terms' checks run as they join the graph."""
    spec.latent.posterior.check(spec, "latent.posterior")
    spec.prior.check(spec, "prior")
    for name, module in spec.modules.items():
        module.check(spec, f"modules.{name}")


def _check_schedule(spec: Spec, name: str, schedule) -> None:
    key = f"schedules.{name}"
    if schedule.kind not in SCHEDULES:
        raise spec.error(
            f"unknown schedule kind '{schedule.kind}'",
            f"{key}.kind",
            name=schedule.kind,
            choices=SCHEDULES,
        )
    rule = SCHEDULES[schedule.kind]
    if not rule.min_args <= len(schedule.args) <= rule.max_args:
        raise spec.error(
            f"{rule.name} takes args [{rule.signature}], got {len(schedule.args)} value(s)",
            f"{key}.args",
        )
    try:
        rule(*schedule.args, step=0)
    except ValueError as error:
        raise spec.error(str(error), f"{key}.args") from None


# what each tensor of the default program is to the model's methods (gaespec.graph.program)
ROLES = {"data": "x", "features": "h", "posterior": "q", "code": "z", "reconstruction": "x_hat"}


def default_calls(spec: Spec, stages: tuple[str, ...]) -> list[Call]:
    """The default program, the one place that names the pipeline's tensors (ROLES): encoder →
    posterior → K samples of z → the stages (codebooks) → the decoder on each sample."""
    return [
        Call("encoder", (ROLES["data"],), (ROLES["features"],)),
        Call("posterior", (ROLES["features"],), (ROLES["posterior"],)),
        Call("rsample", (ROLES["posterior"],), (ROLES["code"],), builtin=True),
        *(
            Call(
                name,
                tuple(r.name for r in spec.modules[name].reads(spec.modules)),
                spec.modules[name].writes(name),
            )
            for name in stages
        ),
        Call("decoder", (spec.decoder.input,), (ROLES["reconstruction"],), folded=True),
    ]


def _stage_order(spec: Spec) -> tuple[str, ...]:
    """The modules that transform the code (they write outputs), each after those it reads."""
    stages = [name for name, decl in spec.modules.items() if decl.outputs()]
    writer = {out: name for name in stages for out in spec.modules[name].writes(name)}
    order = nx.DiGraph()
    order.add_nodes_from(stages)
    for name in stages:
        for read in spec.modules[name].reads(spec.modules):
            if read.name in writer:
                order.add_edge(writer[read.name], name)
    if not nx.is_directed_acyclic_graph(order):
        return tuple(stages)  # the cycle is reported with the whole graph's
    return tuple(nx.lexicographical_topological_sort(order, key=stages.index))


def _add_dataflow(spec: Spec, g: nx.DiGraph) -> None:
    """The default program's calls as the graph's edges: tensors → module → tensors (a built-in
    op joins its tensors directly); then the spec's own [calls]."""

    def tensor(name: str) -> str:
        g.add_node(node("tensor", name), role="tensor", name=name)
        return node("tensor", name)

    def module(name: str, kind: str, trainable: bool = True) -> str:
        g.add_node(node("module", name), role="module", name=name, kind=kind, trainable=trainable)
        return node("module", name)

    posterior, prior = spec.latent.posterior, spec.prior
    module("encoder", spec.encoder.arch)
    module("posterior", posterior.kind, posterior.has_parameters)
    module("prior", prior.kind, trainable=prior.has_parameters)
    for name, decl in spec.modules.items():
        module(name, decl.kind, trainable=decl.has_parameters)
        g.nodes[node("module", name)]["straight_through"] = decl.straight_through
    module("decoder", spec.decoder.arch)
    calls = default_calls(spec, _stage_order(spec))
    produced = {ROLES["data"], *(w for c in calls for w in c.writes)}
    produced |= {w for name, decl in spec.modules.items() for w in decl.writes(name)}
    _need(spec, produced, spec.decoder.input, "decoder.input", "tensor")
    for call in calls:  # in run order; the stages' edges are their declarations'
        if call.builtin:
            for read in call.reads:
                for write in call.writes:
                    g.add_edge(tensor(read), tensor(write))
        elif call.callee not in spec.modules:
            for read in call.reads:
                g.add_edge(tensor(read), node("module", call.callee))
            for write in call.writes:
                g.add_edge(node("module", call.callee), tensor(write))
    for name, decl in spec.modules.items():
        for read in decl.reads(spec.modules):
            _need(spec, produced, read.name, f"modules.{name}.{read.key}", "tensor")
            g.add_edge(tensor(read.name), node("module", name), detached=read.detached)
        for output in decl.writes(name):
            g.add_edge(node("module", name), tensor(output))
    # a module that calls another (a prior calling the encoder on its pseudo-inputs) passes that
    # one's gradients on: the reachability check sees them through this edge
    modules = {d["name"] for _, d in g.nodes(data=True) if d["role"] == "module"}
    made = {"latent.posterior": ("posterior", posterior), "prior": ("prior", prior)}
    made |= {f"modules.{name}": (name, decl) for name, decl in spec.modules.items()}
    for key, (name, decl) in made.items():
        for use in decl.uses(spec.modules):
            _need(spec, modules, use.name, f"{key}.{use.key}", "module")
            g.add_edge(node("module", use.name), node("module", name), detached=use.detached)
    _add_calls(spec, g, produced | set(spec.calls))


def _add_calls(spec: Spec, g: nx.DiGraph, tensors: set[str]) -> None:
    """The [calls] table: a call node per entry, between the module it calls (its weights) and
    the tensors it reads and writes."""
    modules = {d["name"] for _, d in g.nodes(data=True) if d["role"] == "module"}
    for name, call in spec.calls.items():
        key = f"calls.{name}"
        here = node("call", name)
        g.add_node(here, role="call", name=name, kind=call.module or call.op)
        if call.module is not None:
            _need(spec, modules, call.module, f"{key}.module", "module")
            g.add_edge(node("module", call.module), here)
        if call.op == "prior_sample" and len(call.inputs) != 1:
            raise spec.error(
                "prior_sample takes one input, the tensor whose shape its samples take",
                f"{key}.inputs",
            )
        if call.op is not None and call.per_sample is not None:
            raise spec.error(
                "per_sample is for calls of a module, not of an op", f"{key}.per_sample"
            )
        arity = ARITY.get(call.module, 1 if call.module in spec.modules else None)
        if call.module in spec.modules and is_custom(spec.modules[call.module]):
            arity = None  # a module of the user's: its class says
        if arity is not None and len(call.inputs) != arity:
            raise spec.error(
                f"'{call.module}' takes {arity} input{'s' if arity != 1 else ''}, "
                f"not {len(call.inputs)}",
                f"{key}.inputs",
            )
        for read in call.inputs:
            _need(spec, tensors, read, f"{key}.inputs", "tensor")
            g.add_edge(node("tensor", read), here)
        for output in _call_writes(spec, name, call):
            g.add_node(node("tensor", output), role="tensor", name=output)
            g.add_edge(here, node("tensor", output))


# how many tensors a call of each built-in module takes
ARITY = {"encoder": 1, "posterior": 1, "decoder": 1, "prior": 0}


def _call_writes(spec: Spec, name: str, call) -> tuple[str, ...]:
    """What a call writes: its name, and `<name>.<part>` for each by-product of its module."""
    decl = spec.modules.get(call.module)
    parts = decl.call_parts(call.module) if decl is not None else ()
    return (name, *(f"{name}.{part}" for part in parts))


def _need(spec: Spec, known, name: str, key: str, what: str) -> None:
    if name not in known:
        raise spec.error(f"unknown {what} '{name}'", key, name=name, choices=known)


def _add_terms(spec: Spec, g: nx.DiGraph) -> None:
    tensors = {d["name"] for _, d in g.nodes(data=True) if d["role"] == "tensor"} | set(RUNTIME)
    modules = {d["name"]: d for _, d in g.nodes(data=True) if d["role"] == "module"}
    for name, term in spec.terms.items():
        term.check(spec, f"terms.{name}")
        g.add_node(node("term", name), role="term", name=name, kind=term.kind)
        uses = term.uses(spec.modules)
        for use in uses:  # first: a term may read what a module it names writes
            key = f"terms.{name}.{use.key}"
            if use.expects is None:
                _need(spec, modules, use.name, key, "module")
            else:
                fitting = [
                    m for m, d in spec.modules.items() if getattr(d, "provides", "") == use.expects
                ]
                _need(spec, fitting, use.name, key, use.expects)
        for read in term.reads(spec.modules):
            _need(spec, tensors, read.name, f"terms.{name}.{read.key}", "tensor")
            if read.name in RUNTIME:  # a number the trainer hands in: no gradient from it
                g.add_node(node("tensor", read.name), role="tensor", name=read.name)
            g.add_edge(node("tensor", read.name), node("term", name), detached=read.detached)
        for use in uses:
            g.add_edge(node("module", use.name), node("term", name), detached=use.detached)
        reference = getattr(term, "reconstruction", None)
        if reference is not None:
            recons = [t for t, d in spec.terms.items() if d.kind == "reconstruction"]
            _need(spec, recons, reference, f"terms.{name}.reconstruction", "reconstruction term")
            g.add_edge(node("term", reference), node("term", name))
    for name, value in spec.params.items():
        g.add_node(node("param", name), role="param", name=name, value=value)
    for name, schedule in spec.schedules.items():
        g.add_node(
            node("schedule", name),
            role="schedule",
            name=name,
            kind=schedule.kind,
            args=schedule.args,
            unit=schedule.unit,
        )


def _check_acyclic(spec: Spec, g: nx.DiGraph) -> None:
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return
    names = [g.nodes[a]["name"] for a, _ in cycle if g.nodes[a]["role"] != "call"]
    names.append(names[0])
    call = next((g.nodes[a]["name"] for a, _ in cycle if g.nodes[a]["role"] == "call"), None)
    first = next((g.nodes[a]["name"] for a, _ in cycle if g.nodes[a]["name"] in spec.modules), None)
    key = f"calls.{call}.inputs" if call else f"modules.{first}.input" if first else "decoder.input"
    raise spec.error(f"the graph has a cycle: {' → '.join(names)}", key)


def _parse(spec: Spec, text: str, key: str):
    """Parse a loss; a fault is reported at the TOML line of `key`, the column within the loss."""
    try:
        return parse_loss(text)
    except LossSyntaxError as error:
        raise spec.error(
            error.message,
            key,
            cls=LossSyntaxError,
            name=error.name,
            choices=error.choices,
            fix=error.fix,
            context=error.context,
        ) from None


def _gradient_graph(spec: Spec, g: nx.DiGraph) -> nx.DiGraph:
    """The edges gradients flow along: no detached edge, and straight-through modules bypassed
    (their outputs' gradients go to their inputs, never to their own parameters)."""
    grad = nx.DiGraph((a, b) for a, b, d in g.edges(data=True) if not d.get("detached", False))
    for name, decl in spec.modules.items():
        if not decl.straight_through:
            continue
        for output in decl.outputs():
            grad.remove_edge(node("module", name), node("tensor", output))
            for read in decl.reads(spec.modules):
                grad.add_edge(node("tensor", read.name), node("tensor", output))
    return grad


def _add_objectives(spec: Spec, g: nx.DiGraph) -> tuple[Objective, ...]:
    trainable = [
        d["name"] for _, d in g.nodes(data=True) if d["role"] == "module" and d["trainable"]
    ]
    loss_names = set(spec.terms) | set(spec.params) | set(spec.schedules)
    grad = _gradient_graph(spec, g)
    several = len(spec.all_objectives) > 1
    objectives = []
    for i, objective in enumerate(spec.all_objectives):
        key = _objective_key(spec, i)
        loss = _parse(spec, objective.loss, f"{key}.loss")
        here = node("objective", objective.name)
        g.add_node(here, role="objective", name=objective.name)
        for name in sorted(free_names(loss)):
            _need(spec, loss_names, name, f"{key}.loss", "name")
            role = "term" if name in spec.terms else "param" if name in spec.params else "schedule"
            g.add_edge(node(role, name), here)
        grad.add_node(here)  # a loss of numbers alone reads no node
        grad.add_edges_from((a, here) for a in g.predecessors(here))
        if objective.params is None:
            if several:
                raise spec.error(
                    f"objective '{objective.name}' must list the modules it trains "
                    f"(params = [...]) when a spec has several objectives",
                    f"{key}.params" if key != "objective" else key,
                    fix=f"e.g. params = {list(trainable)}",
                )
            params = tuple(trainable)
        else:
            params = objective.params
        for p in params:
            if params.count(p) > 1:
                raise spec.error(f"objective '{objective.name}' lists '{p}' twice", f"{key}.params")
            _need(spec, trainable, p, f"{key}.params", "trainable module")
            if not (
                grad.has_node(node("module", p)) and nx.has_path(grad, node("module", p), here)
            ):
                raise spec.error(
                    f"objective '{objective.name}' claims module '{p}', but no gradient of its "
                    f"loss '{to_formula(loss)}' reaches it",  # one line, as parsed
                    f"{key}.params",
                    fix=f"remove '{p}' from params or add a term that depends on it",
                )
        objectives.append(
            Objective(
                objective.name, loss, tuple(params), objective.optimizer, objective.scheduler, key
            )
        )
    claimed = {p for o in objectives for p in o.params}
    for name in trainable:
        if name not in claimed:
            raise spec.error(
                f"module '{name}' has parameters but no objective trains it",
                "objectives" if several else "objective.params",
                fix=f"add '{name}' to the params of an objective",
            )
    return tuple(objectives)


def program(spec: Spec, g: nx.DiGraph, stages: tuple[str, ...]) -> Program:
    """The program: the default program (default_calls), then the spec's own [calls] in an
    order where each runs after what it reads, then the terms in the spec's order. The calls
    between a tensor and one a term differentiates by it run with gradients."""
    calls = default_calls(spec, stages)
    order = [g.nodes[n]["name"] for n in nx.topological_sort(g) if g.nodes[n]["role"] == "call"]
    for name in order:
        call = spec.calls[name]
        writes = _call_writes(spec, name, call)
        key = f"calls.{name}"
        if call.op is not None:
            calls.append(Call(call.op, call.inputs, writes, builtin=True, key=key))
        else:
            calls.append(Call(call.module, call.inputs, writes, folded=call.folded, key=key))
    # a term that another names (an IWAE bound's `reconstruction`): its values for each sample
    # are computed once, before any term; it is their mean, and the other term reads them first
    references = {
        name: ref
        for name, term in spec.terms.items()
        if (ref := getattr(term, "reconstruction", None)) is not None
    }
    shared = list(dict.fromkeys(references.values()))  # each once, in the spec's order
    for name in shared:
        term, key = spec.terms[name], f"terms.{name}"
        read = tuple(r.name for r in term.reads(spec.modules))
        calls.append(Call(name, read, (shared_values(name),), method="per_sample", key=key))
    for name, term in spec.terms.items():
        modules = tuple(u.name for u in term.uses(spec.modules) if u.argument)
        read = tuple(r.name for r in term.reads(spec.modules))
        key = f"terms.{name}"
        if name in shared:
            values = (shared_values(name),)
            calls.append(Call("term_mean", values, (name,), builtin=True, term=True, key=key))
            continue
        if name in references:
            read = (shared_values(references[name]), *read)
        calls.append(Call(name, read, (name,), modules=modules, term=True, key=key))
    roles = ROLES
    plain = Program(tuple(calls), roles, samples=spec.latent.samples)
    graded, roots = set(), set()
    for name, term in spec.terms.items():
        pair = term.differentiates()
        if pair is None:
            continue
        output, wrt = pair
        code = node("tensor", roles["code"])
        if wrt != roles["code"] and not nx.has_path(g, code, node("tensor", wrt)):
            raise spec.error(
                f"'{wrt}' carries no posterior samples (k b ...): differentiate by the code "
                f"'{roles['code']}' or a tensor computed from it",
                f"terms.{name}.wrt",
            )
        if not nx.has_path(g, node("tensor", wrt), node("tensor", output)):
            raise spec.error(
                f"'{output}' does not depend on '{wrt}': its gradient with respect to it is zero",
                f"terms.{name}.wrt",
            )
        roots.add(wrt)
        graded |= {id(c) for c in plain.between(wrt, output)}
        graded.add(id(next(c for c in plain.calls if c.term and c.writes == (name,))))
    calls = [replace(c, grad=True) if id(c) in graded else c for c in calls]
    return Program(tuple(calls), roles, samples=spec.latent.samples, grad_roots=frozenset(roots))


def lower(spec: Spec, *, given: frozenset[str] = frozenset()) -> ModelGraph:
    """Lower a validated spec to its ModelGraph; GraphError (file, key, fix) where it fails.

    `given` names the nets ("encoder", "decoder") a user passes in Python: their spec rules are
    skipped and their shapes checked when the model is built.
    """
    _check_names(spec)
    _check_components(spec)
    g = nx.DiGraph()
    _add_dataflow(spec, g)
    _check_acyclic(spec, g)
    _add_terms(spec, g)
    objectives = _add_objectives(spec, g)
    _check_acyclic(spec, g)
    if spec.train.select is not None:
        scores = [o.name for o in objectives] + list(spec.terms)
        _need(spec, scores, spec.train.select, "train.select", "objective or term")
    stages = _stage_order(spec)
    shapes = infer_shapes(spec, stages, ROLES, given)
    for name, shape in shapes.items():
        if g.has_node(node("tensor", name)):
            g.nodes[node("tensor", name)]["shape"] = shape
    return ModelGraph(spec, g, stages, shapes, objectives, program(spec, g, stages))
