"""The model's graph as DOT text: every call, tensor, module, term and objective of the lowered
graph, with its edges; parsed back by pydot; drawn by Graphviz's dot where it is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import gaespec
from gaespec.cli import app
from gaespec.errors import GaespecError
from gaespec.graph.dot import graph_files, quote, to_dot
from gaespec.graph.lower import lower
from gaespec.spec.load import builtin_specs

runner = CliRunner()
NODE = re.compile(r'^\s*"((?:[^"\\]|\\.)*)" \[(.*)\];$')
EDGE = re.compile(r'^\s*"((?:[^"\\]|\\.)*)" -> "((?:[^"\\]|\\.)*)"(?: \[(.*)\])?;$')
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")


def parsed(text: str) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """The DOT text's nodes (id → attributes) and edges ((source, target) → attributes)."""
    nodes, edges = {}, {}
    for line in text.splitlines():
        if match := EDGE.match(line):
            edges[match[1], match[2]] = match[3] or ""
        elif match := NODE.match(line):
            nodes[match[1]] = match[2]
    return nodes, edges


def dot_of(name: str) -> str:
    return to_dot(lower(gaespec.load_spec(name)))


def test_the_vae_graph_holds_every_call_and_its_edges():
    nodes, edges = parsed(dot_of("vae"))
    assert set(nodes) == {
        "tensor:x",
        "tensor:h",
        "tensor:q",
        "tensor:z",
        "tensor:x_hat",
        "module:encoder",
        "module:posterior",
        "module:prior",
        "module:decoder",
        "op:2",  # the program's third call: z = rsample(q)
        "term:recon",
        "term:kl",
        "objective:loss",
    }
    assert set(edges) == {
        ("tensor:x", "module:encoder"),
        ("module:encoder", "tensor:h"),
        ("tensor:h", "module:posterior"),
        ("module:posterior", "tensor:q"),
        ("tensor:q", "op:2"),
        ("op:2", "tensor:z"),
        ("tensor:z", "module:decoder"),
        ("module:decoder", "tensor:x_hat"),
        ("tensor:x", "term:recon"),
        ("tensor:x_hat", "term:recon"),
        ("tensor:q", "term:kl"),
        ("module:prior", "term:kl"),
        ("term:recon", "objective:loss"),
        ("term:kl", "objective:loss"),
    }
    assert 'style="dashed", label="detached"' in edges["tensor:x", "term:recon"]
    assert edges["tensor:x_hat", "term:recon"] == ""
    assert 'label="uses"' in edges["module:prior", "term:kl"]
    assert 'shape="ellipse", label="z\\n16"' in nodes["tensor:z"]
    assert 'shape="box3d", label="encoder\\nmnist_convnet"' in nodes["module:encoder"]
    assert 'shape="diamond", label="rsample"' in nodes["op:2"]
    assert 'shape="hexagon", label="kl\\nkl"' in nodes["term:kl"]
    assert (
        'label="loss = recon + kl\\ntrains: encoder, posterior, decoder"' in nodes["objective:loss"]
    )


def test_the_aae_groups_each_objectives_terms_in_a_frame():
    text = dot_of("aae")
    nodes, edges = parsed(text)
    frames = re.findall(r'subgraph "cluster_\d" \{\n(.*?)\n  \}', text, re.S)
    members = [set(re.findall(r'^    "([^"]+)" \[', frame, re.M)) for frame in frames]
    assert members == [
        {"objective:autoencoder", "term:recon", "term:adversarial", "param:alpha"},
        {"objective:critic", "term:critic_bce"},
    ]
    assert 'label="objective critic"' in frames[1]
    assert {e for e in edges if e[1].startswith("objective:")} == {
        ("term:recon", "objective:autoencoder"),
        ("term:adversarial", "objective:autoencoder"),
        ("param:alpha", "objective:autoencoder"),
        ("term:critic_bce", "objective:critic"),
    }
    assert {e for e in edges if e[1] in ("term:adversarial", "term:critic_bce")} == {
        ("tensor:z", "term:adversarial"),
        ("module:critic", "term:adversarial"),
        ("tensor:z", "term:critic_bce"),
        ("module:critic", "term:critic_bce"),
        ("module:prior", "term:critic_bce"),
    }
    assert "detached" in edges["tensor:z", "term:critic_bce"]
    assert "detached" not in edges["tensor:z", "term:adversarial"]
    assert 'fillcolor="white"' in nodes["module:prior"]  # no trained parameters
    assert 'fillcolor="#dbe9f6"' in nodes["module:critic"]


def test_a_module_called_several_times_gets_a_node_per_call():
    graph = lower(gaespec.load_spec("vaegan"))
    nodes, edges = parsed(to_dot(graph))
    calls = {i: c for i, c in enumerate(graph.program.calls) if c.callee == "decoder"}
    assert [c.writes for c in calls.values()] == [("x_hat",), ("x_p",)]
    for i, call in calls.items():
        assert f"call:{i}" in nodes
        assert 'label="weights"' in edges["module:decoder", f"call:{i}"]
        assert ("tensor:" + call.reads[0], f"call:{i}") in edges
        assert (f"call:{i}", "tensor:" + call.writes[0]) in edges
    assert not any(source == "tensor:z" and target == "module:decoder" for source, target in edges)


@pytest.mark.parametrize("name", sorted(builtin_specs()))
def test_every_call_term_and_objective_of_every_spec_is_drawn(name):
    graph = lower(gaespec.load_spec(name))
    nodes, edges = parsed(to_dot(graph))
    g = graph.graph
    for role in ("tensor", "module", "term", "param", "schedule", "objective"):
        assert {f"{role}:{n}" for n in graph.nodes(role)} <= set(nodes), role
    for i, call in enumerate(graph.program.calls):
        if call.term:
            here = f"term:{call.writes[0]}"
        elif call.method:  # a term's values per sample: drawn as the term
            here = f"term:{call.callee}"
        elif call.builtin or f"call:{i}" in nodes:
            here = f"op:{i}" if call.builtin else f"call:{i}"
        else:
            here = f"module:{call.callee}"
        assert here in nodes, call
        drawn = [r for r in call.reads if g.has_node(f"tensor:{r}")]  # not a term's values
        assert {("tensor:" + r, here) for r in drawn} <= set(edges), call
        if not call.term and not call.method:
            assert {(here, "tensor:" + w) for w in call.writes} <= set(edges), call
    for source, target in g.edges:
        roles = (g.nodes[source]["role"], g.nodes[target]["role"])
        if roles[1] in ("term", "objective") or roles == ("module", "module"):
            assert (source, target) in edges, (source, target)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pydot's own use of pyparsing
@pytest.mark.parametrize("name", ["vae", "aae", "vaegan", "vamp", "vqvae"])
def test_pydot_reads_the_same_nodes_and_edges(name):
    pydot = pytest.importorskip("pydot")
    text = dot_of(name)
    nodes, edges = parsed(text)
    (read,) = pydot.graph_from_dot_data(text)
    read_nodes = {n.get_name().strip('"') for n in read.get_nodes()}
    for sub in read.get_subgraphs():
        read_nodes |= {n.get_name().strip('"') for n in sub.get_nodes()}
    read_edges = {
        (e.get_source().strip('"'), e.get_destination().strip('"')) for e in read.get_edges()
    }
    assert read_nodes - {"node", "edge"} == set(nodes)
    assert read_edges == set(edges)
    assert read.get_name().strip('"') == name


def test_quote_escapes_what_dot_reads_specially():
    assert quote('a "b"\\c\nd') == '"a \\"b\\"\\\\c\\nd"'


def test_graph_files_by_suffix(tmp_path):
    assert graph_files(tmp_path / "g.dot") == (tmp_path / "g.dot", None)
    assert graph_files(tmp_path / "g.svg") == (tmp_path / "g.dot", tmp_path / "g.svg")
    assert graph_files(tmp_path / "g") == (tmp_path / "g.dot", tmp_path / "g.png")
    with pytest.raises(GaespecError) as error:
        graph_files(tmp_path / "g.jpg")
    assert str(error.value) == (
        "--out: cannot draw the graph as 'g.jpg': '.jpg' is not a format gaespec writes; "
        "closest valid choice: 'png'"
    )


def test_the_command_prints_the_dot_text():
    result = runner.invoke(app, ["graph", "beta_vae", "--set", "params.beta=4"])
    assert result.exit_code == 0, result.output
    assert result.output == to_dot(lower(gaespec.load_spec("beta_vae", ["params.beta=4"])))
    assert '"param:beta" [shape="plaintext", label="beta = 4.0"]' in result.output


def test_without_graphviz_the_command_writes_the_dot_and_says_how_to_get_the_image(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no `dot` on it
    result = runner.invoke(app, ["graph", "aae", "--out", str(tmp_path / "aae.png")])
    assert result.exit_code == 0, result.output
    dot = tmp_path / "aae.dot"
    assert result.output == (
        f"wrote {dot}\n"
        "note: no image, Graphviz's `dot` is not installed: install Graphviz (apt install "
        "graphviz, brew install graphviz or conda install graphviz) and run "
        f"`dot -Tpng {dot} -o {tmp_path / 'aae.png'}`, or paste {dot} into any Graphviz viewer\n"
    )
    assert dot.read_text() == dot_of("aae")
    assert not (tmp_path / "aae.png").exists()


@needs_dot
@pytest.mark.parametrize("form", ["png", "svg"])
def test_with_graphviz_the_command_draws_the_image(tmp_path, form):
    out = tmp_path / f"vaegan.{form}"
    result = runner.invoke(app, ["graph", "vaegan", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {tmp_path / 'vaegan.dot'}\nwrote {out}\n"
    data = out.read_bytes()
    if form == "png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width > 400 and height > 400
    else:
        svg = data.decode()
        assert "<svg" in svg
        for title in ("discriminator = gan", "x_hat", "feature_recon"):
            assert title in svg


def test_drawing_a_graph_never_imports_torch(tmp_path):
    code = (
        "import sys; from typer.testing import CliRunner; from gaespec.cli import app;"
        f"r = CliRunner().invoke(app, ['graph', 'vaegan', '--out', r'{tmp_path / 'g.dot'}']);"
        "print(r.exit_code, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0 False"
    assert (tmp_path / "g.dot").read_text() == dot_of("vaegan")
