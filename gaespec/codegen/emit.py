"""ModelGraph → source: the graph's program printed one line per call, as one file.

A component (posterior, prior, extra module, term) is its class in gaespec.components, copied
with what it names (gaespec.codegen.sources) and made with printed arguments from the same
wiring the composed model uses; so a kind's torch code has one source. `forward` prints every
call of the program, `encode` and `decode` their slices. The built-in nets (gaespec.nets) and
the loss language's schedules (gaespec.spec.schedules) are copied the same way; only a custom
net comes from a template (`templates/encoder/custom.py.j2`), which imports it. The code
generator lists no kind.
"""

from __future__ import annotations

import ast
import inspect
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
from gaespec.codegen.sources import COPIED, copy_definitions
from gaespec.codegen.templates import render_block, render_file, template_for
from gaespec.components.ops import BUILTIN_OPS, differentiable, per_sample
from gaespec.components.registry import Construct, ModuleRef
from gaespec.components.wiring import Wiring, spec_key
from gaespec.errors import CodegenError
from gaespec.graph.lower import lower
from gaespec.graph.model_graph import ModelGraph
from gaespec.graph.program import RUNTIME, RUNTIME_ARGUMENTS, Call
from gaespec.nets import get_arch, is_import_path, net_kwargs
from gaespec.spec.load import load_spec
from gaespec.spec.loss import called, to_python
from gaespec.spec.schedules import SCHEDULES
from gaespec.spec.schema import Spec
from gaespec.spec.vocabulary import is_custom

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
    """What a net's template sees as `c`: its options, and its constructor arguments."""

    def __init__(self, emitter: Emitter, name: str, decl: Any, origin: str, **extra: Any):
        self._emitter = emitter
        self.name = name
        self.decl = decl
        self.spec = emitter.spec
        self.origin = origin
        for k, v in extra.items():
            setattr(self, k, v)

    def arg(self, field_name: str, value: Any = None) -> str:
        """The constructor argument that carries this component's `field_name`."""
        if value is None:
            value = getattr(self.decl, field_name)
        key = f"{self.name}.{field_name}"
        return self._emitter.hyperparameter(key, value, f"{self.origin}.{field_name}").name

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


# -- the parts of a spec -----------------------------------------------------------------------


# the arguments gaespec itself gives a net; options may not set them
NET_ARGUMENTS = {"encoder": ("input_shape",), "decoder": ("latent_dim", "output_shape")}


def _net(emitter: Emitter, role: str, table: Any, **given: Any) -> Component | Construct:
    """A built-in net: its class (copied) and arguments, every option the arch takes given,
    its default where the spec is silent; a custom net: the template that imports it."""
    options = dict(table.options)
    where = {"file": emitter.spec.origin(f"{role}.arch"), "key": f"{role}.arch"}
    net_kwargs(dict.fromkeys(NET_ARGUMENTS[role]), options, role, table.arch, **where)
    for key in options:
        identifier(key, f"{role} option")
    if is_import_path(table.arch):
        module, names = import_path(table.arch, f"{role}.arch")
        width = given.get("latent_dim", Symbol("")).source
        c = Context(emitter, role, options, role, module=module, names=names, width=width)
        return Component(role, "custom", c)
    arch = get_arch(table.arch)
    cls = arch.encoder_factory if role == "encoder" else arch.decoder_factory
    declared = arch.encoder_options if role == "encoder" else arch.decoder_options
    defaults = {
        name: p.default for name, p in inspect.signature(cls).parameters.items() if name in declared
    }
    return Construct(cls, {**given, **defaults, **options})


def _width(graph: ModelGraph, tensor: str) -> str:
    """`latent_dim` where a tensor is as wide as z, else its width as a number."""
    shape = graph.shapes.get(tensor)
    if shape is None or shape[0] == graph.spec.latent.dim:
        return "latent_dim"
    return str(shape[0])


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
    """What one spec's file is made of, in the order the model makes it: every net and
    component as a class copied from gaespec (a custom net through the template that imports
    it) made from printed arguments, and the schedule functions the losses call, copied."""

    encoder: Component | Construct
    decoder: Component | Construct
    schedules: list[object]  # the schedule functions the losses call, copied
    modules: dict[str, Construct]  # posterior, prior, extra modules
    terms: dict[str, Construct]

    def templated(self) -> list[Component]:
        """The parts rendered by templates."""
        return [n for n in (self.encoder, self.decoder) if isinstance(n, Component)]

    def made(self) -> list[Construct]:
        """The parts made from copied classes."""
        nets = [n for n in (self.encoder, self.decoder) if isinstance(n, Construct)]
        return [*nets, *self.modules.values(), *self.terms.values()]


class Symbol:
    """A value of the model's wiring as the emitted source writes it (`latent_dim`, the
    encoder's features)."""

    def __init__(self, source: str):
        self.source = source


class PrintedWiring(Wiring):
    """The wiring of gaespec.components.wiring, giving the names the file uses for widths."""

    def __init__(self, graph: ModelGraph, features: str):
        super().__init__(graph, Symbol(features))
        self.latent_dim = Symbol("latent_dim")
        self.input_shape = Symbol("INPUT_SHAPE")

    def width(self, tensor: str) -> Symbol:
        return Symbol(_width(self._graph, tensor))

    def _construct(self, role: str, decl, given: dict, name: str | None = None) -> Construct:
        """As the model's wiring, but a class of the user's package is named, never imported:
        the file imports it, and writing the file runs none of its code."""
        if not is_custom(decl):
            return super()._construct(role, decl, given, name)
        module, _, name = decl.kind.partition(":")
        named = type(name.rpartition(".")[2], (), {"__module__": module, "__qualname__": name})
        return Construct(named, {**given, **decl.options})


def _parts(emitter: Emitter) -> Parts:
    graph, spec = emitter.graph, emitter.spec
    used = {spec.schedules[n].kind for n in _named_schedules(graph)}
    for objective in graph.objectives:
        used |= called(objective.loss) & set(SCHEDULES)
    shape = Symbol("INPUT_SHAPE")
    encoder = _net(emitter, "encoder", spec.encoder, input_shape=shape)
    features = (
        encoder.render("features").strip()
        if isinstance(encoder, Component)
        else "self.encoder.features"
    )
    wiring = PrintedWiring(graph, features)
    width = Symbol(_width(graph, spec.decoder.input))
    return Parts(
        encoder=encoder,
        decoder=_net(emitter, "decoder", spec.decoder, latent_dim=width, output_shape=shape),
        schedules=[SCHEDULES[kind].fn for kind in sorted(used)],
        modules=wiring.modules(),
        terms=wiring.terms(),
    )


class Printer:
    """Prints the made components (`Name(argument=...)`) and the program's calls, one line
    each."""

    def __init__(self, emitter: Emitter, parts: Parts):
        self.emitter = emitter
        self.parts = parts
        self.owner = {id(c): n for n, c in {**parts.modules, **parts.terms}.items()}
        self.terms = {name: emitter.attributes.claim(f"terms.{name}", name) for name in parts.terms}

    def construct(self, name: str, made: Construct) -> str:
        """`Class(argument=value, ...)`: numbers become constructor arguments of the model; a
        class of the user's package is named through its module, which the file imports."""
        args = ", ".join(
            f"{key}={self.value(name, key, value)}" for key, value in made.arguments.items()
        )
        cls = made.cls.__name__ if _copied(made.cls) else _imported_name(made.cls)
        return f"{cls}({args})"

    def value(self, name: str, key: str, value: Any) -> str:
        if isinstance(value, Symbol):
            return value.source
        if isinstance(value, Construct):
            return self.construct(self.owner.get(id(value), name), value)
        if isinstance(value, ModuleRef):
            return f"self.{value.name}"
        if callable(value):
            return value.__name__
        origin = f"{spec_key(self.emitter.spec, name)}.{key}"
        if is_hyperparameter(value):
            return self.emitter.hyperparameter(f"{name}.{key}", value, origin).name
        return literal(value, origin)

    def net(self, role: str, net: Component | Construct) -> str:
        """The line of __init__ that makes the encoder or the decoder."""
        if isinstance(net, Component):
            return net.render("init")
        return f"self.{role} = {self.construct(role, net)}"

    def modules(self) -> list[str]:
        """The lines of __init__ that make the posterior, the prior and the extra modules."""
        return [f"self.{n} = {self.construct(n, made)}" for n, made in self.parts.modules.items()]

    def terms_made(self) -> list[str]:
        """The lines of __init__ that make the terms."""
        return [
            f"self.{self.terms[n]} = {self.construct(n, made)}"
            for n, made in self.parts.terms.items()
        ]

    def call(self, call: Call) -> str:
        """One call of the program as one line of Python."""
        local = self.emitter.locals
        reads = [local[r] for r in call.reads] + [f"self.{m}" for m in call.modules]
        writes = ", ".join(local[w] for w in call.writes)
        if call.builtin:
            return f"{writes} = {_inline(BUILTIN_OPS[call.callee], reads)}"
        callee = f"self.{self.terms[call.callee] if call.term or call.method else call.callee}"
        callee += f".{call.method}" if call.method else ""
        if call.folded:
            return f"{writes} = per_sample({', '.join([callee, *reads])})"
        return f"{writes} = {callee}({', '.join(reads)})"


def _print_calls(printer: Printer, calls, roots: frozenset[str], logged=frozenset()) -> list[str]:
    """The calls, one line each, as the composed model runs them: a run of calls that need
    gradients goes under `torch.enable_grad()`, the tensors they differentiate by made
    differentiable first; a run of terms (or terms' values) only `logged` (no objective reads
    them) under `torch.no_grad()`, which leaves their values and builds no graph for them."""
    lines: list[str] = []
    block = None  # the `with` statement the last line is in
    for call in calls:
        if call.grad:
            mode = "torch.enable_grad()"
        elif call.writes[0] in logged:
            mode = "torch.no_grad()"
        else:
            mode = None
        if mode is None:
            lines.append(printer.call(call))
        else:
            if mode != block:
                lines.append(f"with {mode}:")
            for name in sorted(roots.intersection(call.reads)) if call.grad else ():
                local = printer.emitter.locals[name]
                lines.append(f"    {local} = differentiable({local})")
            lines.append("    " + printer.call(call))
        block = mode
    return lines


def _inline(op, reads: list[str]) -> str:
    """A built-in op's one returned expression, its model as `self` and its tensors as `reads`."""
    import inspect

    function = ast.parse(inspect.getsource(op)).body[0]
    params = [a.arg for a in function.args.args]
    names = dict(zip(params, ["self", *reads], strict=True))
    body = [n for n in function.body if isinstance(n, ast.Return)]
    if len(body) != 1:
        raise CodegenError(f"internal: built-in op {op.__name__} is not one return")

    class Rename(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            return ast.Name(names.get(node.id, node.id), node.ctx)

    return ast.unparse(Rename().visit(body[0].value))


def _copied(obj: object) -> bool:
    """Whether the file copies `obj` (gaespec's own) rather than imports it (the user's)."""
    return obj.__module__.startswith(COPIED)


def _imported_name(obj: object) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def _user_imports(parts: Parts) -> list[str]:
    """`import package.module` for each made class of the user's package."""
    made = parts.made()
    return sorted({f"import {m.cls.__module__}" for m in made if not _copied(m.cls)})


def _copied_objects(parts: Parts, program) -> list[object]:
    """The classes and functions of gaespec.components the file copies: those of the made
    components and their arguments, and the fold of samples if a call needs it."""
    found: dict[object, None] = {}

    def visit(value: Any) -> None:
        if isinstance(value, Construct):
            found[value.cls] = None
            for argument in value.arguments.values():
                visit(argument)
        elif isinstance(value, tuple):
            for v in value:
                visit(v)
        elif callable(value) and not isinstance(value, Symbol):
            found[value] = None

    for made in parts.made():
        visit(made)
    for fn in parts.schedules:
        found[fn] = None
    found = {obj: None for obj in found if _copied(obj)}
    if any(call.folded for call in program.calls):
        found[per_sample] = None
    if any(call.grad for call in program.calls):
        found[differentiable] = None
    return list(found)


def _named_schedules(graph: ModelGraph) -> list[str]:
    """The named schedules that some objective's loss reads, in spec order."""
    read = graph.read
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
    program = graph.program

    # module level first: no argument or local may shadow what the file defines or imports
    parts = _parts(emitter)
    templated = parts.templated()
    copied = copy_definitions(_copied_objects(parts, program))
    imports = _lines(
        [*copied.imports, *_user_imports(parts), *(c.render("imports") for c in templated)]
    )
    definitions = [d.strip("\n") for d in (c.render("definitions") for c in templated)]
    definitions = [*copied.definitions, *(d for d in definitions if d)]
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
    printer = Printer(emitter, parts)
    # in the order the model makes them, which is the order of the constructor's arguments
    init = _lines(
        [
            printer.net("encoder", parts.encoder),
            *printer.modules(),
            printer.net("decoder", parts.decoder),
            *printer.terms_made(),
        ]
    )
    # the pipeline's tensors and forward's arguments keep their names: a package called `z` is not
    # used in forward
    pipeline = set(program.roles.values()) | set(RUNTIME)
    emitter.locals = Namespace((taken - pipeline) | {"terms", "losses"})
    tensors = [n for call in program.calls for n in (*call.reads, *call.writes)]
    for name in [*RUNTIME, program["data"], *tensors]:  # in run order
        emitter.locals[name]

    data, code, posterior, reconstruction = (
        emitter.locals[program[role]] for role in ("data", "code", "posterior", "reconstruction")
    )
    roots = program.grad_roots
    encode = _print_calls(printer, program.generative("data", "posterior"), roots)
    decode = _print_calls(printer, program.generative("code", "reconstruction"), roots)
    methods, losses, clock = _objectives(emitter)
    read = {name for call in program.calls for name in call.reads}
    clock = [name for name in RUNTIME if name in clock or name in read]

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
        distribution=getattr(
            getattr(parts.modules["posterior"].cls, "distribution", None), "__name__", "object"
        ),
        data=data,
        code=code,
        encode=_lines([*encode, f"return {posterior}"]),
        decode=_lines(
            [
                f'{code} = rearrange({code}, "b d -> 1 b d")',
                *decode,
                f"return {reconstruction}[0]",
            ]
        ),
        forward=_lines(_print_calls(printer, program.calls, roots, graph.logged_terms)),
        term_names=[(literal(n, "terms"), emitter.locals[n]) for n in spec.terms],
        losses=losses,
        methods=methods,
        clock=clock,
        clock_arguments=[f"{name}: {RUNTIME_ARGUMENTS[name]}" for name in clock],
        groups=[(literal(o.name, "objective.name"), o.params) for o in graph.objectives],
    )
    return format_source(text)
