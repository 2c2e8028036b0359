"""The model's graph in Graphviz's DOT language (`gaespec graph`), written by hand from the lowered
ModelGraph, and its image through Graphviz's `dot` program where that is installed.

Shapes: tensors are ellipses; modules are 3-d boxes (blue when they own trained parameters); a
module called more than once gets a rounded box per call, tied to it by a dotted "weights" edge;
built-in ops are diamonds; loss terms are hexagons; params and schedules are plain text; each
objective is a double octagon inside a frame that holds the terms only it reads. Edges follow the
data: a call's reads into it, its writes out of it; dashed edges stop gradients (detached);
dotted edges are modules that a term or another module uses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from gaespec.atomic import atomic_write, atomic_write_text
from gaespec.errors import GaespecError
from gaespec.graph.model_graph import ModelGraph, node
from gaespec.graph.program import RUNTIME, Call

IMAGE_FORMATS = ("png", "svg", "pdf")  # what `dot -T` writes that `--out` may name
DOT_SUFFIXES = (".dot", ".gv")
INSTALL = "install Graphviz (apt install graphviz, brew install graphviz or conda install graphviz)"
TRAINED = "#dbe9f6"  # fill of a module with trained parameters
TERM = "#fde3c8"
OBJECTIVE = "#d8efd3"


def quote(text: str) -> str:
    """`text` as a DOT quoted string (a line break becomes a centred line break)."""
    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n") + '"'


def _attributes(**attrs) -> str:
    shown = [f"{k}={quote(v)}" for k, v in attrs.items() if v is not None]
    return f" [{', '.join(shown)}]" if shown else ""


def _shape_text(shape) -> str | None:
    return "×".join(map(str, shape)) if shape else None


def call_node(graph: ModelGraph, index: int, call: Call) -> str:
    """The DOT node that stands for the program's call number `index`: the term (also for a
    term's values per sample, computed once for it and a term that reads it), a node of its own
    (a built-in op, or a module called more than once), else the module it calls."""
    if call.term:
        return node("term", call.writes[0])
    if call.method:
        return node("term", call.callee)
    if call.builtin:
        return f"op:{index}"
    calls = Counter(c.callee for c in graph.program.calls if not c.term and not c.builtin)
    return f"call:{index}" if calls[call.callee] > 1 else node("module", call.callee)


def _graph_node(graph: ModelGraph, call: Call) -> str | None:
    """The ModelGraph node whose in-edges hold a call's reads (and whether each is detached)."""
    if call.term or call.method:
        return node("term", call.writes[0] if call.term else call.callee)
    if call.key is not None and call.key.startswith("calls."):
        return node("call", call.key.removeprefix("calls."))
    return node("module", call.callee) if not call.builtin else None


def _node(name: str, **attrs) -> str:
    return f"{quote(name)}{_attributes(**attrs)}"


def _edge(source: str, target: str, **attrs) -> str:
    return f"  {quote(source)} -> {quote(target)}{_attributes(**attrs)};"


def _read_style(detached: bool) -> dict:
    return {"style": "dashed", "label": "detached", "fontsize": "9"} if detached else {}


def _tensor_nodes(graph: ModelGraph) -> list[str]:
    g = graph.graph
    lines = []
    for name in graph.nodes("tensor"):
        shape = _shape_text(g.nodes[node("tensor", name)].get("shape"))
        runtime = name in RUNTIME
        label = name + (f"\n{shape}" if shape else "") + ("\n(from the trainer)" if runtime else "")
        style = "dashed" if runtime else None
        lines.append(f"  {_node(node('tensor', name), shape='ellipse', label=label, style=style)};")
    return lines


def _module_nodes(graph: ModelGraph) -> list[str]:
    g = graph.graph
    lines = []
    for name in graph.nodes("module"):
        attrs = g.nodes[node("module", name)]
        label = f"{name}\n{attrs['kind']}"
        if attrs.get("straight_through"):
            label += "\n(straight-through)"
        fill = TRAINED if attrs["trainable"] else "white"
        module = _node(
            node("module", name), shape="box3d", label=label, style="filled", fillcolor=fill
        )
        lines.append(f"  {module};")
    return lines


def _call_nodes_and_edges(graph: ModelGraph) -> tuple[list[str], list[str]]:
    """Nodes of built-in ops and repeated module calls; every call's read and write edges."""
    g = graph.graph
    nodes, edges = [], []
    for index, call in enumerate(graph.program.calls):
        here = call_node(graph, index, call)
        if call.term or call.method:
            pass  # drawn with the terms
        elif call.builtin:
            nodes.append(f"  {_node(here, shape='diamond', label=call.callee)};")
        elif here.startswith("call:"):
            label = f"{call.callee}\n({', '.join(call.writes)})"
            shape = {"shape": "box", "style": "rounded,filled", "fillcolor": TRAINED}
            nodes.append(f"  {_node(here, label=label, **shape)};")
            edges.append(
                _edge(
                    node("module", call.callee),
                    here,
                    style="dotted",
                    arrowhead="none",
                    label="weights",
                    fontsize="9",
                )
            )
        inside = _graph_node(graph, call)
        for read in call.reads:
            source = node("tensor", read)
            if not g.has_node(source):  # a term's values per sample: the term-to-term edge
                continue
            detached = (
                inside is not None
                and g.has_edge(source, inside)
                and bool(g.edges[source, inside].get("detached"))
            )
            edges.append(_edge(source, here, **_read_style(detached)))
        if not call.term and not call.method:  # a term's value is the term's own node
            edges += [_edge(here, node("tensor", write)) for write in call.writes]
    return nodes, edges


def _use_edges(graph: ModelGraph) -> list[str]:
    """Modules that a term or another module uses, and terms that read another term."""
    g = graph.graph
    edges = []
    for source, target, attrs in g.edges(data=True):
        roles = (g.nodes[source]["role"], g.nodes[target]["role"])
        if roles in (("module", "term"), ("module", "module")):
            label = "uses, detached" if attrs.get("detached") else "uses"
            edges.append(_edge(source, target, style="dotted", label=label, fontsize="9"))
        elif roles == ("term", "term"):
            edges.append(_edge(source, target, style="dotted", label="reads", fontsize="9"))
    return edges


def _loss_node(graph: ModelGraph, name: str) -> str:
    g = graph.graph
    attrs = g.nodes[name]
    if attrs["role"] == "term":
        label = f"{attrs['name']}\n{attrs['kind']}"
        return _node(name, shape="hexagon", label=label, style="filled", fillcolor=TERM)
    if attrs["role"] == "param":
        label = f"{attrs['name']} = {attrs['value']}"
        return _node(name, shape="plaintext", label=label)
    args = ", ".join(map(str, attrs["args"]))
    label = f"{attrs['name']} = {attrs['kind']}({args}) per {attrs['unit']}"
    return _node(name, shape="plaintext", label=label)


def _objectives(graph: ModelGraph) -> tuple[list[str], list[str]]:
    """A frame per objective with its node and the terms, params and schedules only it reads;
    the other terms, params and schedules outside; the edges into the objectives."""
    from gaespec.spec.loss import to_formula

    g = graph.graph
    owner: dict[str, str | None] = {}
    for role in ("term", "param", "schedule"):
        for name in graph.nodes(role):
            readers = [
                t for t in g.successors(node(role, name)) if g.nodes[t]["role"] == "objective"
            ]
            owner[node(role, name)] = readers[0] if len(readers) == 1 else None
    lines, edges = [], []
    for i, objective in enumerate(graph.objectives):
        here = node("objective", objective.name)
        formula = to_formula(objective.loss)
        label = f"{objective.name} = {formula}\ntrains: {', '.join(objective.params)}"
        lines.append(f"  subgraph {quote(f'cluster_{i}')} {{")
        lines.append(
            f"    label={quote(f'objective {objective.name}')}; style=rounded; color=gray50;"
        )
        shape = {"shape": "doubleoctagon", "style": "filled", "fillcolor": OBJECTIVE}
        lines.append(f"    {_node(here, label=label, **shape)};")
        lines += [f"    {_loss_node(graph, n)};" for n, o in owner.items() if o == here]
        lines.append("  }")
        edges += [_edge(source, here, color="darkgreen") for source in g.predecessors(here)]
    lines += [f"  {_loss_node(graph, n)};" for n, o in owner.items() if o is None]
    return lines, edges


def to_dot(graph: ModelGraph) -> str:
    """The DOT text of a lowered model: its tensors, modules, calls, terms and objectives."""
    call_nodes, call_edges = _call_nodes_and_edges(graph)
    objective_nodes, objective_edges = _objectives(graph)
    summary = graph.spec.model.summary
    title = f"{graph.name}: {summary}" if summary else graph.name
    lines = [
        f"digraph {quote(graph.name)} {{",
        f"  label={quote(title)}; labelloc=t;",
        '  node [fontname="Helvetica", fontsize=11]; edge [fontname="Helvetica"];',
        *_tensor_nodes(graph),
        *_module_nodes(graph),
        *call_nodes,
        *objective_nodes,
        *call_edges,
        *_use_edges(graph),
        *objective_edges,
        "}",
    ]
    return "\n".join(lines) + "\n"


def graph_files(out: str | os.PathLike) -> tuple[Path, Path | None]:
    """Where `gaespec graph --out` writes: (the DOT file, the image or None). FILE.dot and FILE.gv
    are DOT alone; FILE.png, .svg or .pdf the image beside FILE.dot; FILE alone, both."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix in DOT_SUFFIXES:
        return out, None
    if suffix[1:] in IMAGE_FORMATS:
        return out.with_suffix(".dot"), out
    if suffix:
        raise GaespecError(
            f"cannot draw the graph as '{out.name}': '{suffix}' is not a format gaespec writes",
            key="--out",
            name=suffix[1:],
            choices=[*IMAGE_FORMATS, *(s[1:] for s in DOT_SUFFIXES)],
        )
    return out.with_name(out.name + ".dot"), out.with_name(out.name + ".png")


def render(text: str, image: str | os.PathLike) -> Path | None:
    """Draw DOT text as an image (format from the suffix) with Graphviz's `dot`, atomically;
    None where `dot` is not installed."""
    program = shutil.which("dot")
    if program is None:
        return None
    image = Path(image)
    form = image.suffix[1:].lower()
    done = subprocess.run([program, f"-T{form}"], input=text.encode(), capture_output=True)
    if done.returncode != 0:
        error = done.stderr.decode(errors="replace").strip().splitlines()
        raise GaespecError(
            f"Graphviz's dot could not draw '{image}': {error[-1] if error else done.returncode}",
            fix="check the Graphviz install (`dot -V`), or write --out FILE.dot",
        )
    return atomic_write(image, lambda tmp: Path(tmp).write_bytes(done.stdout))


def write_graph(graph: ModelGraph, out: str | os.PathLike) -> tuple[Path, Path | None]:
    """Write the DOT file of `out` (graph_files) and, where Graphviz is installed, its image;
    returns (DOT path, image path or None when none was asked for or `dot` is missing)."""
    dot_path, image = graph_files(out)
    text = to_dot(graph)
    atomic_write_text(dot_path, text)
    return dot_path, render(text, image) if image is not None else None
