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
    # programs the fixed pipeline of before could not run (PROGRAMS)
    "decoder_twice": (
        "vae",
        "calls.z_prior={op='prior_sample', inputs=['z']}",
        "calls.x_prior={module='decoder', inputs=['z_prior']}",
        "terms.prior_recon={kind='reconstruction', target='x_hat', estimate='x_prior', scale=0.1}",
        "objective.loss='recon + kl + prior_recon'",
    ),
    "shared_encoder": (
        "ae",
        "calls.h_rec={module='encoder', inputs=['x_hat']}",
        "terms.cycle={kind='reconstruction', target='h', estimate='h_rec', scale=0.5}",
        "objective.loss='recon + cycle'",
    ),
    "gradient_penalty": (
        "ae",
        "terms.gp={kind='gradient_penalty', output='x_hat', wrt='z'}",
        "objective.loss='recon + 0.1 * gp'",
    ),
}
PROGRAMS = ("decoder_twice", "shared_encoder", "gradient_penalty")


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


def test_the_programs_call_what_they_say(emitted_files):
    """A decoder called twice, an encoder called on two inputs, a penalty with gradients."""
    from gaespec.graph.lower import lower

    steps = {
        n: [(c.callee, c.reads, c.writes) for c in lower(variant(n)).program.calls]
        for n in PROGRAMS
    }
    assert [s for s in steps["decoder_twice"] if s[0] == "decoder"] == [
        ("decoder", ("z",), ("x_hat",)),
        ("decoder", ("z_prior",), ("x_prior",)),
    ]
    assert ("prior_recon", ("x_hat", "x_prior"), ("prior_recon",)) in steps["decoder_twice"]
    assert [s for s in steps["shared_encoder"] if s[0] == "encoder"] == [
        ("encoder", ("x",), ("h",)),
        ("encoder", ("x_hat",), ("h_rec",)),
    ]
    program = lower(variant("gradient_penalty")).program
    assert [c.callee for c in program.calls if c.grad] == ["decoder", "gp"]
    assert program.grad_roots == {"z"}
    text = emitted_files.source(variant("gradient_penalty"))
    assert "    with torch.enable_grad():\n            z = differentiable(z)\n" in text


def test_one_module_called_twice_trains_one_set_of_weights():
    spec = variant("shared_encoder")
    model = gaespec.build(spec)
    x = torch.rand((4, *spec.input.shape), generator=torch.Generator().manual_seed(0))
    out = model(x)
    (grad,) = torch.autograd.grad(out.terms["cycle"], [model.encoder.layers[1].weight])
    assert grad.abs().sum() > 0  # the cycle term reaches the encoder through its second call
    assert [k for k in model.state_dict() if k.startswith("encoder.")] == [
        "encoder.layers.1.weight",
        "encoder.layers.1.bias",
    ]


def test_the_gradient_penalty_is_the_squared_gradient_and_runs_without_grad_mode():
    spec = variant("gradient_penalty")
    model = gaespec.build(spec)
    x = torch.rand((4, *spec.input.shape), generator=torch.Generator().manual_seed(0))
    out = model(x)
    z = out.tensors["z"]
    (grad,) = torch.autograd.grad(out.tensors["x_hat"].sum(), z, retain_graph=True)
    expected = (grad**2).sum(-1).mean()
    torch.testing.assert_close(out.terms["gp"], expected, rtol=1e-6, atol=1e-9)
    model.eval()
    with torch.no_grad():  # as the validation pass runs it
        again = model(x)
    with torch.no_grad():
        assert torch.isfinite(again.terms["gp"]) and again.terms["gp"] > 0
    # in eval mode the batch statistics are the running ones; with none moved, the same nets
    torch.testing.assert_close(again.terms["gp"].detach(), expected, rtol=1e-5, atol=1e-8)
