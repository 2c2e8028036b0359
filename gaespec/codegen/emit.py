"""ModelGraph → source: every component rendered by the template of its kind, then one file.

Each kind has a template `templates/<role>/<kind>.py.j2` (nets under `encoder/` and `decoder/`
by arch, schedules under `schedule/`); its blocks give the imports, the module-level
definitions, the lines of `__init__` and the lines of `forward`. A block `requires` names shared
definitions under `templates/shared/` (a distribution used by a posterior and a divergence) so
that each is written once. The code generator lists no kind: the templates are its registry.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from gaespec import __version__
from gaespec.codegen.literals import (
    annotation,
    comment,
    docstring,
    identifier,
    import_path,
    is_hyperparameter,
    literal,
)
from gaespec.codegen.namespace import Namespace
from gaespec.codegen.templates import render_block, render_file, template_for
from gaespec.errors import CodegenError
from gaespec.graph.lower import lower
from gaespec.graph.model_graph import ModelGraph
from gaespec.nets import is_import_path, net_kwargs
from gaespec.spec.load import load_spec
from gaespec.spec.loss import called, free_names, to_python
from gaespec.spec.schedules import SCHEDULES
from gaespec.spec.schema import Spec

# tensors of the forward pass every model has, in the order it computes them
TENSORS = ("x", "h", "q", "z", "x_hat")
# the names templates/model.py.j2 itself defines or imports
FILE_NAMES = (
    "annotations",
    "math",
    "NamedTuple",
    "torch",
    "rearrange",
    "Tensor",
    "nn",
    "INPUT_SHAPE",
)
# attributes of the emitted model beside nn.Module's own
MODEL_API = ("encode", "decode", "reconstruct", "sample_prior", "forward")


def class_name(model: str) -> str:
    """The model class's name: `beta_vae` → `BetaVAE` (parts ending in "ae" are acronyms)."""
    parts = [p for p in identifier(model, "model.name").split("_") if p]
    name = "".join(p.upper() if p.lower().endswith("ae") else p[:1].upper() + p[1:] for p in parts)
    return name if name.isidentifier() else f"Model{name}"


@dataclass
class Hyperparameter:
    """A constructor argument: its name, default, annotation, and the spec key it comes from."""

    name: str
    default: str
    annotation: str
    origin: str
    stored: bool = False


class Emitter:
    """The state of one emission: namespaces, constructor arguments, the components."""

    def __init__(self, graph: ModelGraph):
        from torch import nn  # the emitted model is an nn.Module: none of its names may clash

        self.graph = graph
        self.spec = graph.spec
        self.hyperparameters: dict[str, Hyperparameter] = {}
        self.attributes = Namespace({*dir(nn.Module()), *MODEL_API, *self.spec.modules})
        self.locals: Namespace | None = None  # made once the module-level names are known

    def hyperparameter(
        self, key: str, value: Any, origin: str, name: str | None = None
    ) -> Hyperparameter:
        """The constructor argument for `key` (claimed on first use, as `name` if given, else
        as the key with "." as "_") with default `value`."""
        if isinstance(value, list):
            value = tuple(value)  # a default argument is immutable
        if key not in self.hyperparameters:
            self.hyperparameters[key] = Hyperparameter(
                self.attributes.claim(key, name), literal(value, origin), annotation(value), origin
            )
        return self.hyperparameters[key]


class Context:
    """What a component's template sees as `c`: its declaration and the names it may write."""

    def __init__(self, emitter: Emitter, name: str, decl: Any, origin: str, **extra: Any):
        self._emitter = emitter
        self.name = name
        self.decl = decl
        self.spec = emitter.spec
        self.origin = origin
        for k, v in extra.items():
            setattr(self, k, v)

    def _locals(self) -> Namespace:
        if self._emitter.locals is None:
            raise CodegenError(f"internal: {self.origin} names a local outside forward")
        return self._emitter.locals

    def var(self, key: str) -> str:
        """The local variable of `forward` that holds tensor or term `key` ("name.part" too)."""
        return self._locals()[key]

    @property
    def out(self) -> str:
        """The local variable that holds this component's value (a term's batch mean)."""
        return self.var(self.name)

    def local(self, part: str) -> str:
        """A variable of this component that others may read, e.g. `recon_per_sample`."""
        return self.var(f"{self.name}.{part}")

    def temp(self, part: str) -> str:
        """A variable only this component reads: `part`, made unique in forward."""
        return self._locals().claim(f"{self.name}.{part}", part)

    def module(self, name: str) -> str:
        """`self.<name>` for an extra module of the spec."""
        return f"self.{identifier(name, 'module name')}"

    def arg(self, field_name: str, value: Any = None) -> str:
        """The constructor argument that carries this component's `field_name`."""
        if value is None:
            value = getattr(self.decl, field_name)
        key = f"{self.name}.{field_name}"
        return self._emitter.hyperparameter(key, value, f"{self.origin}.{field_name}").name

    def attr(self, field_name: str, value: Any = None) -> str:
        """`self.<argument>` for a hyperparameter that `forward` reads."""
        name = self.arg(field_name, value)
        self._emitter.hyperparameters[f"{self.name}.{field_name}"].stored = True
        return f"self.{name}"

    def option(self, key: str, default: Any, *, as_given: bool = False) -> str:
        """A net option: a constructor argument if it is a number or numbers, else a literal;
        `as_given` passes a list as a list (the argument's default is a tuple)."""
        value = self.decl.get(key, default)
        if not is_hyperparameter(value):
            return literal(value, f"{self.origin}.{key}")
        name = self.arg(key, value)
        return f"list({name})" if as_given and isinstance(value, list) else name


@dataclass
class Component:
    """One template applied to one part of the spec."""

    role: str
    kind: str
    c: Context | None

    def render(self, block: str) -> str:
        """One block of its template, rendered ("" when the template has no such block)."""
        return render_block(template_for(self.role, self.kind), block, {"c": self.c})

    @property
    def requires(self) -> list[str]:
        """The shared definitions it needs, and the capabilities it needs of them ("+density")."""
        return self.render("requires").split()


# -- the parts of a spec -----------------------------------------------------------------------


# the arguments gaespec itself gives a net; options may not set them
NET_ARGUMENTS = {"encoder": ("input_shape",), "decoder": ("latent_dim", "output_shape")}


def _net(emitter: Emitter, role: str, table: Any, **extra: Any) -> Component:
    options = dict(table.options)
    where = {"file": emitter.spec.origin(f"{role}.arch"), "key": f"{role}.arch"}
    net_kwargs(dict.fromkeys(NET_ARGUMENTS[role]), options, role, table.arch, **where)
    for key in options:
        identifier(key, f"{role} option")
    module = names = None
    if is_import_path(table.arch):
        module, names = import_path(table.arch, f"{role}.arch")
    kind = "custom" if module else table.arch
    c = Context(emitter, role, options, role, module=module, names=names, **extra)
    return Component(role, kind, c)


def _term_order(graph: ModelGraph) -> list[str]:
    """Terms in spec order, each after the terms it reads."""
    g, order = graph.graph, []

    def visit(name: str) -> None:
        if name in order:
            return
        for pred in g.predecessors(f"term:{name}"):
            if g.nodes[pred]["role"] == "term":
                visit(g.nodes[pred]["name"])
        order.append(name)

    for name in graph.spec.terms:
        visit(name)
    return order


def _width(graph: ModelGraph, tensor: str) -> str:
    """`latent_dim` where a tensor is as wide as z, else its width as a number."""
    shape = graph.shapes.get(tensor)
    if shape is None or shape[0] == graph.spec.latent.dim:
        return "latent_dim"
    return str(shape[0])


@dataclass
class SharedContext:
    """What a shared template sees as `c`: the capabilities the components need of it."""

    needs: frozenset[str]


def _shared(components: list[Component]) -> list[Component]:
    """The shared definitions the components require, dependencies first, each once; a
    requirement "+name" is a capability (a method, say) that shared templates write only then."""
    wanted = [r for c in components for r in c.requires]
    context = SharedContext(frozenset(r[1:] for r in wanted if r.startswith("+")))
    out: list[Component] = []

    def add(name: str, chain: tuple[str, ...]) -> None:
        if name.startswith("+") or any(s.kind == name for s in out):
            return
        if name in chain:
            raise CodegenError(f"internal: shared templates require each other: {chain}")
        shared = Component("shared", name, context)
        for required in shared.requires:
            add(required, (*chain, name))
        out.append(shared)

    for name in wanted:
        add(name, ())
    return out


def _stages_to(graph: ModelGraph, tensor: str, modules: list[Component]) -> list[Component]:
    """The stages, in run order, that `tensor` depends on (none for z itself)."""
    by_output = {}
    for m in modules:
        for output in m.c.decl.outputs():
            by_output[output] = m.c.name
    needed: set[str] = set()
    while tensor in by_output:
        name = by_output[tensor]
        needed.add(name)
        tensor = graph.spec.modules[name].input
    return [m for m in _in_run_order(graph, modules) if m.c.name in needed]


def _in_run_order(graph: ModelGraph, modules: list[Component]) -> list[Component]:
    by_name = {m.c.name: m for m in modules}
    return [by_name[name] for name in graph.stages]


def _check_file_name(spec: Spec, imports: str) -> None:
    """The file is <name>.py: it must not shadow a module that it, or Python, imports."""
    modules = {"torch", "einops", "typing", "dataclasses", "math"}
    modules |= {n.split(".")[0] for n in _imported_modules(imports)}
    name = spec.model.name
    if name in modules or name in sys.stdlib_module_names:
        raise spec.error(
            f"a generated file {name}.py would shadow the module '{name}' for every import "
            "beside it",
            "model.name",
            cls=CodegenError,
            fix=f'rename the model, e.g. name = "{name}_model"',
        )


def _imported_modules(source: str) -> set[str]:
    names: set[str] = set()
    for statement in ast.parse(source).body:
        match statement:
            case ast.Import(names=aliases):
                names |= {a.name for a in aliases}
            case ast.ImportFrom(module=module) if module:
                names.add(module)
    return names


def _sentence(text: str) -> str:
    return text if text.rstrip().endswith((".", "!", "?")) else text.rstrip() + "."


def _top_level_names(source: str) -> set[str]:
    names: set[str] = set()
    for statement in ast.parse(source).body:
        match statement:
            case ast.ClassDef(name=n) | ast.FunctionDef(name=n):
                names.add(n)
            case ast.Assign(targets=targets):
                names |= {t.id for t in targets if isinstance(t, ast.Name)}
            case ast.Import(names=aliases) | ast.ImportFrom(names=aliases):
                names |= {(a.asname or a.name).split(".")[0] for a in aliases}
    return names


def _lines(texts) -> str:
    return "\n".join(t.strip("\n") for t in texts if t.strip())


@dataclass
class Parts:
    """The components of one spec, in the order the model makes them."""

    encoder: Component
    posterior: Component
    prior: Component
    modules: list[Component]
    decoder: Component
    terms: list[Component]
    schedules: list[Component]

    def all(self) -> list[Component]:
        """Every component, nets and schedules included."""
        return [
            self.encoder,
            self.posterior,
            self.prior,
            *self.modules,
            self.decoder,
            *self.terms,
            *self.schedules,
        ]


def _parts(emitter: Emitter) -> Parts:
    graph, spec = emitter.graph, emitter.spec

    def component(role: str, kind: str, name: str, decl: Any, origin: str, **extra: Any):
        return Component(role, kind, Context(emitter, name, decl, origin, **extra))

    used = {spec.schedules[n].kind for n in _named_schedules(graph)}
    for objective in graph.objectives:
        used |= called(objective.loss) & set(SCHEDULES)
    posterior = spec.latent.posterior
    return Parts(
        encoder=_net(emitter, "encoder", spec.encoder, shape=spec.input.shape),
        posterior=component(
            "posterior", posterior.kind, "posterior", posterior, "latent.posterior"
        ),
        prior=component("prior", spec.prior.kind, "prior", spec.prior, "prior"),
        modules=[
            component(
                "module", decl.kind, name, decl, f"modules.{name}", width=_width(graph, decl.input)
            )
            for name, decl in spec.modules.items()
        ],
        decoder=_net(
            emitter,
            "decoder",
            spec.decoder,
            shape=spec.input.shape,
            width=_width(graph, spec.decoder.input),
        ),
        terms=[
            component("term", spec.terms[name].kind, name, spec.terms[name], f"terms.{name}")
            for name in _term_order(graph)
        ],
        schedules=[component("schedule", kind, kind, None, "schedules") for kind in sorted(used)],
    )


def _named_schedules(graph: ModelGraph) -> list[str]:
    """The named schedules that some objective's loss reads, in spec order."""
    read = set().union(*(free_names(o.loss) for o in graph.objectives))
    return [name for name in graph.spec.schedules if name in read]


def _objectives(emitter: Emitter) -> tuple[list[dict[str, str]], list[tuple[str, str]], list[str]]:
    """(schedule methods, (objective, loss source) pairs, the clocks forward takes): terms are
    locals of forward, params attributes, named schedules methods of the step or epoch."""
    spec = emitter.spec
    methods: list[dict[str, str]] = []
    for name in _named_schedules(emitter.graph):
        schedule = spec.schedules[name]
        args = ", ".join(literal(a, f"schedules.{name}.args") for a in schedule.args)
        methods.append(
            {
                "name": emitter.attributes.claim(f"schedules.{name}", name),
                "unit": schedule.unit,
                "call": f"{schedule.kind}({args}, step={schedule.unit})",
                "doc": f"{name}: {schedule.kind}({args}), counted in {schedule.unit}s.",
            }
        )
    clock: set[str] = set()

    def python_name(id: str) -> str:
        if id in spec.terms:
            return emitter.locals[id]
        if id in spec.params:
            return f"self.{emitter.hyperparameters[f'params.{id}'].name}"
        unit = spec.schedules[id].unit
        clock.add(unit)
        return f"self.{emitter.attributes[f'schedules.{id}']}({unit})"

    losses = []
    for objective in emitter.graph.objectives:
        code = to_python(objective.loss, python_name, number=lambda id: id not in spec.terms)
        if called(objective.loss) & set(SCHEDULES):
            clock.add("step")
        losses.append((literal(objective.name, "objective.name"), code))
    return methods, losses, [unit for unit in ("step", "epoch") if unit in clock]


def emit(spec_or_graph: Spec | ModelGraph | str | PathLike, *, source: str | None = None) -> str:
    """The standalone source of a spec's model, formatted; `source` names its spec file."""
    from gaespec.codegen.files import display, format_source

    if isinstance(spec_or_graph, (str, PathLike)):
        spec_or_graph = load_spec(spec_or_graph)
    graph = spec_or_graph if isinstance(spec_or_graph, ModelGraph) else lower(spec_or_graph)
    spec = graph.spec
    if source is None and spec.source is not None:
        source = display(Path(spec.source))
    emitter = Emitter(graph)

    # module level first: no argument or local may shadow what the file defines or imports
    parts = _parts(emitter)
    everything, kinds = [], set()
    for component in [*_shared(parts.all()), *parts.all()]:
        if (component.role, component.kind) not in kinds:  # two codebooks: one class
            kinds.add((component.role, component.kind))
            everything.append(component)
    imports = _lines(c.render("imports") for c in everything)
    definitions = [d.strip("\n") for d in (c.render("definitions") for c in everything)]
    definitions = [d for d in definitions if d]
    taken = _top_level_names(imports + "\n" + "\n\n".join(definitions)) | set(FILE_NAMES)
    _check_file_name(spec, imports)
    model_class = class_name(spec.model.name)
    while model_class in taken or model_class == "Output":
        model_class += "Model"
    taken |= {model_class, "Output", "self"}

    emitter.attributes.take(taken)
    emitter.hyperparameter("latent.dim", spec.latent.dim, "latent.dim", "latent_dim")
    samples = emitter.hyperparameter(
        "latent.samples", spec.latent.samples, "latent.samples", "samples"
    )
    samples.stored = True
    for name, value in spec.params.items():
        emitter.hyperparameter(f"params.{name}", value, f"params.{name}", name).stored = True
    # the pipeline's tensors keep their names: a package called `z` is not used in forward
    emitter.locals = Namespace((taken - set(TENSORS)) | {"terms", "losses", "step", "epoch"})
    # the spec's own names first, so that a template's temporaries give way to them
    for tensor in TENSORS:
        emitter.locals[tensor]
    for module in spec.modules.values():
        for output in module.outputs():
            emitter.locals[output]
    for term in spec.terms:
        emitter.locals[term]

    parts.posterior.c.features = parts.encoder.render("features").strip()
    made = [parts.encoder, parts.posterior, parts.prior, *parts.modules, parts.decoder]
    init = _lines(c.render("init") for c in made)
    stages = _in_run_order(graph, parts.modules)
    decode_stages = _stages_to(graph, spec.decoder.input, parts.modules)
    terms = _lines(t.render("forward") for t in parts.terms)
    methods, losses, clock = _objectives(emitter)

    header = [
        *comment(
            f"Generated by gaespec {__version__} from the spec '{spec.model.name}'"
            + (f" ({source})." if source else ".")
        ),
        "Do not edit: change the spec and run `gaespec build`.",
    ]
    text = render_file(
        header=header,
        summary=comment(spec.model.summary),
        reference=comment(spec.model.reference),
        docstring=docstring(_sentence(spec.model.summary or spec.model.name), spec.model.reference),
        imports=imports,
        definitions=definitions,
        model_class=model_class,
        input_shape=literal(tuple(spec.input.shape), "input.shape"),
        hyperparameters=list(emitter.hyperparameters.values()),
        init=init,
        distribution=parts.posterior.render("distribution").strip(),
        stages=_lines(m.render("forward") for m in stages),
        decode_stages=_lines(m.render("decode") or m.render("forward") for m in decode_stages),
        decoder_input=emitter.locals[spec.decoder.input],
        terms=terms,
        term_names=[(literal(n, "terms"), emitter.locals[n]) for n in spec.terms],
        losses=losses,
        methods=methods,
        clock=clock,
        groups=[(literal(o.name, "objective.name"), o.params) for o in graph.objectives],
    )
    return format_source(text)
