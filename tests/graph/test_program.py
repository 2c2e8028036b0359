"""The program lowering writes: calls in run order, slices of it, and one place naming tensors."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import gaespec
from gaespec.errors import GraphError
from gaespec.graph.lower import lower
from gaespec.graph.program import Call, Program

PIPELINE_TENSORS = {"x", "h", "q", "z", "x_hat"}


def _steps(calls):
    return [(c.callee, c.reads, c.writes) for c in calls]


def test_the_default_program_of_the_vqvae():
    program = lower(gaespec.load_spec("vqvae")).program
    assert _steps(program.calls) == [
        ("encoder", ("x",), ("h",)),
        ("posterior", ("h",), ("q",)),
        ("rsample", ("q",), ("z",)),
        ("codebook", ("z",), ("z_q", "codebook.codes", "codebook.indices")),
        ("decoder", ("z_q",), ("x_hat",)),
        ("recon", ("x", "x_hat"), ("recon",)),
        ("codebook_loss", ("z", "codebook.codes"), ("codebook_loss",)),
        ("commitment", ("z", "codebook.codes"), ("commitment",)),
        ("perplexity", ("codebook.indices",), ("perplexity",)),
    ]
    assert [c.callee for c in program.calls if c.builtin] == ["rsample"]
    assert [c.callee for c in program.calls if c.folded] == ["decoder"]
    assert [c.callee for c in program.terms] == [
        "recon",
        "codebook_loss",
        "commitment",
        "perplexity",
    ]
    assert program.samples == 1


def test_terms_get_the_modules_they_call():
    calls = {c.callee: c for c in lower(gaespec.load_spec("aae")).program.calls}
    assert calls["adversarial"].modules == ("critic",)
    assert calls["critic_bce"].modules == ("critic", "prior")
    assert calls["recon"].modules == ()
    iwae = lower(gaespec.load_spec("iwae")).program
    assert iwae.samples == 5
    # the reconstruction's values for each sample, computed once for recon and the bound
    assert next(c for c in iwae.calls if c.callee == "bound").reads == (
        "recon.per_sample",
        "q",
        "z",
    )
    shared = [c for c in iwae.calls if "recon.per_sample" in (*c.reads, *c.writes)]
    assert [(c.callee, c.method, c.reads, c.writes, c.term) for c in shared] == [
        ("recon", "per_sample", ("x", "x_hat"), ("recon.per_sample",), False),
        ("term_mean", None, ("recon.per_sample",), ("recon",), True),
        ("bound", None, ("recon.per_sample", "q", "z"), ("bound",), True),
    ]


def test_slices_are_the_calls_between_two_tensors():
    program = lower(gaespec.load_spec("vqvae")).program
    assert [c.callee for c in program.slice(("x",), ("q",))] == ["encoder", "posterior"]
    assert [c.callee for c in program.slice(("z",), ("x_hat",))] == ["codebook", "decoder"]
    assert [c.callee for c in program.slice(("x",), ("commitment",))] == [
        "encoder",
        "posterior",
        "rsample",
        "codebook",
        "commitment",
    ]
    with pytest.raises(GraphError) as caught:
        program.slice(("h",), ("nothing",))
    assert str(caught.value) == "internal: no call writes 'nothing' from ('h',)"


def test_a_tensor_is_written_once():
    with pytest.raises(GraphError) as caught:
        Program((Call("a", (), ("t",)), Call("b", ("t",), ("t",))), {})
    assert str(caught.value) == "internal: tensor 't' is written twice"


@pytest.mark.parametrize("module", ["gaespec.compose", "gaespec.codegen.emit"])
def test_the_back_ends_name_no_tensor_of_the_pipeline(module):
    """The interpreter and the printer follow whatever program lowering wrote; only lowering
    names the pipeline's tensors."""
    import importlib

    source = Path(importlib.import_module(module).__file__).read_text(encoding="utf-8")
    strings = {
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert not strings & PIPELINE_TENSORS


def test_the_file_template_names_no_tensor_of_the_pipeline():
    """templates/model.py.j2 prints what the program gives it; only its prose says x or z."""
    import re

    from gaespec.codegen.templates import MODEL, TEMPLATES_DIR

    text = (TEMPLATES_DIR / MODEL).read_text(encoding="utf-8")
    code = re.sub(r'""".*?"""|`[^`]*`|#.*', "", text, flags=re.S)  # prose and comments out
    code = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", code, flags=re.S)  # template tags out
    names = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", code))
    assert not names & PIPELINE_TENSORS, names & PIPELINE_TENSORS
