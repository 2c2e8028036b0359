"""Beyond the built-in specs: every net, likelihood, schedule and loss function the generator
can write, and names that would shadow the emitted code's own, give the composed model's numbers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from codegen.emitted import relative_difference
from tiny import tiny_spec

import gaespec

TOLERANCE = 1e-6
GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).resolve().parents[2]

VARIANTS = {
    "schedules": (
        "vae",
        "schedules.warm={kind='linear', args=[0, 1, 10]}",
        "schedules.ep={kind='warmup', args=[3], unit='epoch'}",
        "objective.loss='recon + warm * kl + cyclical(0, 2, 4, 0.25) * ep * kl'",
    ),
    "functions": (
        "vae",
        "params.beta=2.0",
        "objective.loss='recon + clamp(kl, 0, beta) + exp(beta) * min(kl, 2) + max(kl, recon)"
        " + sqrt(abs(kl)) + log(recon) + min(beta, 3) - clamp(0.5, kl, recon) / 2'",
    ),
    "shadowing_names": (
        "vae",
        "params.training=0.5",
        "params.forward=2.0",
        "terms.torch={kind='kl'}",
        "terms.linear={kind='kl'}",
        "terms.self_={kind='kl'}",
        "objective.loss='recon + training * torch + linear(0, 1, 5) * linear + forward * self_'",
    ),
    "bernoulli": ("vae", "terms.recon.likelihood='bernoulli'"),
    "identity_output": ("ae", "decoder.output='identity'", "decoder.hidden=[32, 16]"),
    "custom_nets": (
        "vae",
        "input.shape=[1, 8, 8]",
        "latent.dim=4",
        "encoder.arch='nets.toy_nets:TinyEncoder'",
        "encoder.width=5",
        "decoder.arch='nets.toy_nets:TinyDecoder'",
    ),
    "iwae": ("iwae", "latent.samples=3"),
    "vqvae": ("vqvae", "modules.codebook.num_embeddings=8"),
    "aae": ("aae", "modules.critic.hidden=[8, 8]"),
    "deterministic_samples": ("ae", "latent.samples=2"),
    "compound_clamp": (
        "vae",
        "objective.loss='recon + clamp(0.5, kl + recon, 100) + clamp(kl, recon * 0.1, 3)'",
    ),
    "module_level_names": (
        "vae",
        "params.INPUT_SHAPE=1.5",
        "params.MLPEncoder=2.0",
        "params.self=0.5",
        "params.linear_relu=0.25",
        "objective.loss='recon + INPUT_SHAPE * kl + MLPEncoder * self * linear_relu * kl'",
    ),
    "unused_schedule": ("vae", "schedules.never={kind='warmup', args=[3]}"),
    "stacked_codebooks": (str(GOLDEN / "stacked_vq.toml"),),
    "annealed_golden": (str(GOLDEN / "annealed_vae.toml"),),
    # math on numbers where no net or term brings `import math` with it
    "math_without_mlp": (
        str(GOLDEN / "custom_ae.toml"),
        "params.beta=2.0",
        "objective.loss='recon * exp(beta) / sqrt(beta) + log(beta) + kl_free'",
        "terms.kl_free={kind='reconstruction', scale=0.5}",
    ),
    "custom_golden": (str(GOLDEN / "custom_ae.toml"),),
}


def variant(name):
    base, *overrides = VARIANTS[name]
    if name in ("custom_nets", "stacked_codebooks", "annealed_golden", "custom_golden") or (
        name == "math_without_mlp"
    ):
        return gaespec.load_spec(base, overrides)
    return tiny_spec(base, *overrides)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_same_terms_losses_and_gradients(name, emitted_files):
    spec = variant(name)
    composed = gaespec.build(spec)
    cls, _ = emitted_files.model_class(spec)
    emitted = cls()
    emitted.load_state_dict(composed.state_dict())
    x = torch.rand((5, *spec.input.shape), generator=torch.Generator().manual_seed(2))
    clock = {p for p in ("step", "epoch") if p in cls.forward.__code__.co_varnames}
    for step, epoch in [(0, 0), (3, 1), (7, 2), (25, 9)]:
        torch.manual_seed(step)
        theirs = composed(x, step=step, epoch=epoch)
        torch.manual_seed(step)
        kwargs = {k: v for k, v in (("step", step), ("epoch", epoch)) if k in clock}
        ours = emitted(x, **kwargs)
        assert list(ours.terms) == list(theirs.terms)
        assert list(ours.losses) == list(theirs.losses)
        for key in theirs.terms:
            assert relative_difference(ours.terms[key], theirs.terms[key]) < TOLERANCE
        for key in theirs.losses:
            assert relative_difference(ours.losses[key], theirs.losses[key]) < TOLERANCE
            params_c = [p for _, p in composed.named_parameters()]
            params_e = [p for _, p in emitted.named_parameters()]
            grads_c = torch.autograd.grad(
                theirs.losses[key], params_c, retain_graph=True, allow_unused=True
            )
            grads_e = torch.autograd.grad(
                ours.losses[key], params_e, retain_graph=True, allow_unused=True
            )
            for gc, ge in zip(grads_c, grads_e, strict=True):
                assert (gc is None) == (ge is None)
                if gc is not None:
                    torch.testing.assert_close(ge, gc, rtol=TOLERANCE, atol=1e-7)


def test_schedules_reach_forward_as_step_and_epoch(emitted_files):
    cls, _ = emitted_files.model_class(variant("schedules"))
    assert cls.forward.__kwdefaults__ == {"step": 0, "epoch": 0}
    model = cls()
    # float64 schedule arithmetic against the hand-computed value: rounding only
    torch.testing.assert_close(model.warm(5), 0.5, rtol=1e-12, atol=0.0)
    torch.testing.assert_close(model.ep(1), 1 / 3, rtol=1e-12, atol=0.0)


def test_names_that_would_shadow_are_renamed(emitted_files):
    cls, module = emitted_files.model_class(variant("shadowing_names"))
    model = cls()
    # nn.Module's own `training` flag and `forward` method are untouched
    assert model.training is True
    assert model.training_ == 0.5 and model.forward_ == 2.0
    assert callable(model.forward)
    assert module.torch is torch


def test_every_variant_is_formatted_and_lint_clean(tmp_path, emitted_files):
    files = []
    for name in sorted(VARIANTS):
        path = tmp_path / f"{name}.py"
        path.write_text(emitted_files.source(variant(name)), encoding="utf-8")
        files.append(str(path))
    config = ["--config", str(ROOT / "pyproject.toml")]
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", *config, *files], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", *config, *files],
        capture_output=True,
        text=True,
    )
    assert formatted.returncode == 0, formatted.stdout


def test_names_of_the_file_are_never_shadowed(emitted_files):
    cls, module = emitted_files.model_class(variant("module_level_names"))
    model = cls()
    assert module.INPUT_SHAPE == (1, 8, 8) and isinstance(module.MLPEncoder, type)
    assert (model.INPUT_SHAPE_, model.MLPEncoder_, model.self_, model.linear_relu_) == (
        1.5,
        2.0,
        0.5,
        0.25,
    )


def test_an_unused_schedule_is_not_written(emitted_files):
    text = emitted_files.source(variant("unused_schedule"))
    assert "never" not in text and "warmup" not in text
    assert "step" not in text.split("def forward", 1)[1].split(":", 1)[0]
