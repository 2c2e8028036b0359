"""A term kind from a package outside gaespec (tests/outside_terms), named by import path: it
validates, trains through `gaespec train`, is emitted by `gaespec build`, and loads back only
with trust_code."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
import torch
from tiny import TINY
from typer.testing import CliRunner

import gaespec
from gaespec.cli import app
from gaespec.errors import RunError, SpecError

KIND = "outside_terms.divergences:HingedCodeNorm"
SET = [
    *TINY,
    f"terms.hinge={{kind='{KIND}', inputs=['z'], weight=0.5, radius=0.1}}",
    "objective.loss='recon + hinge'",
]


def _args(*overrides: str) -> list[str]:
    return [a for o in overrides for a in ("--set", o)]


def test_validates_without_importing_the_package():
    code = (
        "import sys; from gaespec.cli import app; from typer.testing import CliRunner;"
        f"r = CliRunner().invoke(app, ['validate', 'specs/models/ae.toml', *{_args(*SET)!r}]);"
        "print(r.exit_code, 'outside_terms' in sys.modules, 'torch' in sys.modules)"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0 False False"


def test_a_spec_with_an_unknown_class_says_where():
    spec = gaespec.load_spec("ae", [*TINY, "terms.hinge={kind='outside_terms.divergences:Nope'}"])
    with pytest.raises(SpecError) as caught:
        gaespec.build(spec)
    assert str(caught.value).startswith(
        "--set: terms.hinge.kind: module 'outside_terms.divergences' has no attribute 'Nope'"
    )


def test_trains_builds_and_loads_back_with_trust(tmp_path, digits):
    run = tmp_path / "run"
    args = ["train", "specs/models/ae.toml", "--data", "sklearn_digits", "--epochs", "1"]
    result = CliRunner().invoke(app, [*args, "--out", str(run), "--quiet", *_args(*SET)])
    assert result.exit_code == 0, result.output
    record = json.loads((run / "metrics.jsonl").read_text())
    assert set(record["validation"]) == {"recon", "hinge", "loss"}

    with pytest.raises(RunError) as caught:
        gaespec.load_run(run)
    assert str(caught.value).startswith(f"run '{run}' uses custom code {KIND}; importing it")
    model = gaespec.load_run(run, trust_code=True)
    x = digits.validation.x[:16]
    with torch.no_grad():
        z = model.encode(x).mean
        expected = 0.5 * torch.clamp((z**2).sum(-1) - 0.01, min=0.0).mean()
        torch.manual_seed(0)
        out = model(x)
    torch.testing.assert_close(out.terms["hinge"], expected, rtol=1e-6, atol=1e-8)

    result = CliRunner().invoke(app, ["build", str(run / "spec.toml"), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    path = tmp_path / "ae.py"
    text = path.read_text()
    assert "import outside_terms.divergences" in text
    made = (
        "self.hinge=outside_terms.divergences.HingedCodeNorm("
        "weight=hinge_weight,radius=hinge_radius)"
    )
    assert made in "".join(text.split())  # as ruff wraps it
    spec = importlib.util.spec_from_file_location("emitted_outside_ae", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would: its dataclasses look it up
    spec.loader.exec_module(module)
    emitted = module.AE()
    emitted.load_state_dict(model.state_dict())
    emitted.eval()
    with torch.no_grad():
        torch.manual_seed(0)
        theirs = emitted(x)
    torch.testing.assert_close(theirs.terms["hinge"], out.terms["hinge"], rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(theirs.losses["loss"], out.losses["loss"], rtol=1e-6, atol=1e-8)


def test_the_trainer_hands_terms_the_size_of_the_training_set(tmp_path, digits):
    kind = "outside_terms.divergences:CodeNormPerDatum"
    spec = gaespec.load_spec(
        "ae",
        [
            *TINY,
            f"terms.per_datum={{kind='{kind}', inputs=['z', 'dataset_size'], scale=1000.0}}",
            "objective.loss='recon + per_datum'",
        ],
    )
    quiet = {"data": digits, "epochs": 1, "progress": False, "log": lambda *_: None}
    run = gaespec.train(spec, out=tmp_path / "run", **quiet)
    record = run.metrics[-1]["validation"]
    model = run.model.eval()
    with torch.no_grad():
        z = model.encode(digits.validation.x).mean
    expected = 1000.0 * (z**2).sum(-1).mean().item() / len(digits.train)
    torch.testing.assert_close(record["per_datum"], expected, rtol=1e-5, atol=1e-9)

    from gaespec.codegen.emit import emit

    text = emit(spec)
    assert "def forward(self, x: Tensor, *, dataset_size: int | None = None) -> Output:" in text
    assert "per_datum = self.per_datum(z, dataset_size)" in text


def test_a_posterior_a_prior_and_a_module_of_ones_own(tmp_path):
    """All four roles from the user's package, through both back ends."""
    from gaespec.codegen.emit import emit
    from gaespec.graph.lower import lower

    parts = "outside_terms.parts"
    spec = gaespec.load_spec(
        "ae",
        [
            *TINY,
            f"latent.posterior={{kind='{parts}:FixedNoiseHead', scale=0.2}}",
            f"prior={{kind='{parts}:WideNormalPrior', spread=3.0}}",
            f"modules.scorer={{kind='{parts}:Scorer', width=4}}",
            "calls.score={module='scorer', inputs=['z'], per_sample=true}",
            f"terms.mean_score={{kind='{parts}:MeanScore', inputs=['score']}}",
            "objective.loss='recon + 0.1 * mean_score'",
        ],
    )
    assert lower(spec).objectives[0].params == ("encoder", "posterior", "scorer", "decoder")
    composed = gaespec.build(spec)
    path = tmp_path / "ae.py"
    path.write_text(emit(spec))
    module_spec = importlib.util.spec_from_file_location("emitted_parts_ae", path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module
    module_spec.loader.exec_module(module)
    emitted = module.AE()
    emitted.load_state_dict(composed.state_dict())
    x = torch.rand((5, *spec.input.shape), generator=torch.Generator().manual_seed(1))
    torch.manual_seed(3)
    theirs = composed(x)
    torch.manual_seed(3)
    ours = emitted(x)
    for key in theirs.terms:
        torch.testing.assert_close(ours.terms[key], theirs.terms[key], rtol=1e-6, atol=1e-7)
    params = [p for _, p in composed.named_parameters()]
    grads_c = torch.autograd.grad(theirs.losses["loss"], params)
    grads_e = torch.autograd.grad(ours.losses["loss"], [p for _, p in emitted.named_parameters()])
    for gc, ge in zip(grads_c, grads_e, strict=True):
        torch.testing.assert_close(ge, gc, rtol=1e-5, atol=1e-7)
    torch.manual_seed(0)
    samples = composed.sample(3)
    assert samples.shape == (3, *spec.input.shape)
    from gaespec.runs import _custom_code  # what a saved run needs trust_code for

    assert _custom_code(spec) == [
        f"{parts}:FixedNoiseHead",
        f"{parts}:WideNormalPrior",
        f"{parts}:Scorer",
        f"{parts}:MeanScore",
    ]
