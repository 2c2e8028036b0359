"""[calls]: bad entries are refused naming file and key; a call that fails in torch says which."""

from __future__ import annotations

import pytest
import torch
from tiny import TINY

import gaespec
from gaespec.errors import GraphError, SpecError
from gaespec.graph.lower import lower


def _lowered(*overrides: str):
    return lower(gaespec.load_spec("vae", [*TINY, *overrides]))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["calls.a={module='decodr', inputs=['z']}"],
            "--set: calls.a.module: unknown module 'decodr'; closest valid choice: 'decoder', "
            "'encoder'",
        ),
        (
            ["calls.a={module='decoder', inputs=['zz']}"],
            "--set: calls.a.inputs: unknown tensor 'zz'; closest valid choice: 'z'",
        ),
        (
            ["calls.a={module='decoder', inputs=['z', 'z']}"],
            "--set: calls.a.inputs: 'decoder' takes 1 input, not 2",
        ),
        (
            ["calls.a={module='prior', inputs=['z']}"],
            "--set: calls.a.inputs: 'prior' takes 0 inputs, not 1",
        ),
        (
            ["calls.a={op='prior_sample', inputs=['z'], per_sample=true}"],
            "--set: calls.a.per_sample: per_sample is for calls of a module, not of an op",
        ),
        (
            ["calls.a={op='prior_sample', inputs=[]}"],
            "--set: calls.a.inputs: prior_sample takes one input, the tensor whose shape its "
            "samples take",
        ),
        (
            ["calls.recon={module='decoder', inputs=['z']}"],
            "--set: calls.recon: 'recon' is already defined at terms.recon",
        ),
        (
            [
                "calls.a={module='decoder', inputs=['b']}",
                "calls.b={module='encoder', inputs=['a']}",
            ],
            "--set: calls.a.inputs: the graph has a cycle: a → b → a",
        ),
        (
            [
                "terms.gp={kind='gradient_penalty', output='x_hat', wrt='h'}",
                "objective.loss='recon + kl + gp'",
            ],
            "--set: terms.gp.wrt: 'h' carries no posterior samples (k b ...): differentiate by "
            "the code 'z' or a tensor computed from it",
        ),
    ],
)
def test_a_bad_call_is_refused_where_it_was_written(overrides, message):
    with pytest.raises(SpecError) as caught:
        _lowered(*overrides)
    assert str(caught.value) == message


def test_a_call_that_fails_in_torch_says_which_and_on_what():
    spec = gaespec.load_spec(
        "vae", [*TINY, "calls.a={module='decoder', inputs=['x'], per_sample=false}"]
    )
    model = gaespec.build(spec)
    with pytest.raises(GraphError) as caught:
        model(torch.rand(3, 1, 8, 8))
    text = str(caught.value)
    assert text.startswith("--set: calls.a: calling module 'decoder' on 'x' failed: RuntimeError:")
    assert text.endswith("fix: check the tensors it reads (their number and shapes) and per_sample")


def test_a_users_term_that_refuses_its_options_says_where():
    kind = "outside_terms.divergences:HingedCodeNorm"
    spec = gaespec.load_spec(
        "ae", [*TINY, f"terms.hinge={{kind='{kind}', inputs=['z'], wieght=2.0}}"]
    )
    with pytest.raises(SpecError) as caught:
        gaespec.build(spec)
    text = str(caught.value)
    assert text.startswith(
        "--set: terms.hinge.kind: HingedCodeNorm cannot be made with {'wieght': 2.0}"
    )
    assert text.endswith("fix: give the options its constructor takes")


def test_a_term_may_not_own_parameters(monkeypatch):
    import outside_terms.divergences as divergences

    class Learned(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, z):
            return self.w * z.mean()

    monkeypatch.setattr(divergences, "Learned", Learned, raising=False)
    spec = gaespec.load_spec(
        "ae", [*TINY, "terms.l={kind='outside_terms.divergences:Learned', inputs=['z']}"]
    )
    with pytest.raises(SpecError) as caught:
        gaespec.build(spec)
    assert str(caught.value) == (
        "--set: terms.l.kind: term 'l' owns parameters, which no objective could train; fix: "
        "make the parameters a module of [modules] and give it to the term (modules = [...])"
    )
