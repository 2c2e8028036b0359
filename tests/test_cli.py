"""The command line: exit codes, one-line errors, and a whole train → sample → eval round."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from PIL import Image
from tiny import FITTING, TINY
from typer.testing import CliRunner

import gaespec
from gaespec.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_validate_every_builtin_spec():
    from gaespec.spec.load import builtin_specs

    result = run("validate", *builtin_specs().values())
    assert result.exit_code == 0, result.output
    assert result.output.count("ok  ") == len(builtin_specs())


def test_validate_fails_with_one_line_per_bad_spec(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "vae"\n[model]\nname = "bad"\n[latent]\ndim = 0\n')
    result = run("validate", "specs/models/vae.toml", bad)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("ok  specs/models/vae.toml")
    assert lines[1] == f"error: {bad}:5:1: latent.dim: Input should be greater than 0"
    assert "Traceback" not in result.output


def test_validate_and_explain_do_not_import_torch():
    code = (
        "import sys; from typer.testing import CliRunner; from gaespec.cli import app;"
        "r = CliRunner().invoke(app, ['validate', 'specs/models/vqvae.toml']);"
        "e = CliRunner().invoke(app, ['explain', 'specs/models/aae.toml']);"
        "print(r.exit_code, e.exit_code, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0 0 False"


def test_explain_shows_the_formula_and_the_graph():
    result = run("explain", "specs/models/beta_vae.toml", "--set", "params.beta=2")
    assert result.exit_code == 0
    assert "loss = recon + beta * kl" in result.output
    assert "beta = 2.0" in result.output
    assert "  kl               kl  ← q, prior" in result.output
    program = result.output.split("# program\n")[1].split("\n\n")[0].splitlines()
    assert program == [
        "h = encoder(x)",
        "q = posterior(h)",
        "z = rsample(q)  [built-in]",
        "x_hat = decoder(z)  [per sample]",
        "recon = recon(x, x_hat)  [term]",
        "kl = kl(q, prior)  [term]",
    ]


def test_list_names_specs_and_kinds():
    result = run("list")
    assert result.exit_code == 0
    for word in ("vae ", "iwae_bound", "vq_codebook", "mlp_discriminator", "diag_gaussian"):
        assert word in result.output
    assert "  package.module:Class   a term class of your own package, by import path" in (
        result.output
    )


def test_list_shows_every_model_with_its_summary_and_reference():
    from gaespec.spec.load import builtin_specs, load_spec

    lines = run("list").output.splitlines()
    specs = builtin_specs()
    width = max(map(len, specs))
    for i, (name, path) in enumerate(specs.items(), start=1):
        model = load_spec(path).model
        assert model.summary and model.reference, name
        assert lines[i] == f"  {name:<{width}} {model.summary}  [{model.reference}]"


def test_user_errors_exit_1_without_traceback(tmp_path):
    result = run("train", "specs/models/vae.toml", "--data", "mnist5", "--out", tmp_path / "r")
    assert result.exit_code == 1
    assert result.output.startswith("error: unknown data source 'mnist5'")
    assert len(result.output.strip().splitlines()) == 1
    result = run("sample", tmp_path / "nothing")
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: '{tmp_path / 'nothing'}' is not a gaespec run: it has no spec.toml; "
        "fix: give the --out folder of `gaespec train`"
    )


def test_data_that_does_not_fit_is_refused_before_training(tmp_path):
    result = run("train", "specs/models/vae.toml", "--data", "sklearn_digits", "--out", tmp_path)
    assert result.exit_code == 1
    assert "data 'sklearn_digits' has samples of shape 1×8×8 but the spec expects 1×28×28" in (
        result.output
    )
    assert not (tmp_path / "last.safetensors").exists()


def _terms_without_draws(name, model, x, x_hat):
    """The report's terms that need no random draw, in plain torch from the posterior mean and
    the weights: the VAE's analytic KL; the VQ-VAE's Σ-over-pixels error and codeword distances."""
    posterior = model.encode(x)
    if name == "vae":
        mean, log_var = posterior.mean, posterior.log_var
        kl = 0.5 * (mean**2 + log_var.exp() - 1 - log_var).sum(dim=1)
        return {"kl": kl.mean()}
    codewords = model.state_dict()["codebook.embeddings.weight"]  # (K, d / groups)
    parts = posterior.mean.reshape(-1, codewords.shape[1])  # each code cut into its groups
    nearest = codewords[torch.cdist(parts, codewords).argmin(dim=1)]
    distance = ((parts - nearest) ** 2).sum(dim=1).sum() / len(x)
    return {
        "recon": ((x_hat - x) ** 2).sum(dim=(1, 2, 3)).mean(),
        "codebook_loss": distance,
        "commitment": distance,
    }


# each spec's objective, from the report's own terms
LOSSES = {
    "vae": lambda t: t["recon"] + t["kl"],
    "vqvae": lambda t: t["recon"] + t["codebook_loss"] + 0.25 * t["commitment"],
}


def _check_eval_report(name, out, report, output, digits):
    """`gaespec eval`'s numbers against the run's best weights on its test split, computed here."""
    training = json.loads((out / "training.json").read_text())
    # the digits fixture is load_data("sklearn_digits", seed=0): the split this run was made with
    assert (training["data"], training["seed"], training["sizes"]["test"]) == (
        "sklearn_digits",
        0,
        359,
    )
    x = digits.test.x
    model = gaespec.load_run(out)  # the weights that scored best on validation, in eval mode
    assert not model.training
    with torch.no_grad():
        x_hat = model.reconstruct(x)  # from the posterior mean
        mse = ((x_hat.double() - x.double()) ** 2).mean()
        torch.testing.assert_close(
            torch.tensor(report["mse"], dtype=torch.float64), mse, rtol=1e-5, atol=1e-7
        )

        # the forward pass eval makes: all 359 images in one batch (eval's batches hold 500),
        # seeded with 0, at the counters of the best weights
        torch.manual_seed(0)
        forward = model(x, step=model.run.step, epoch=max(model.run.epoch - 1, 0))
        independent = _terms_without_draws(name, model, x, x_hat)
    assert list(report["terms"]) == [*forward.terms, *forward.losses]
    for key, value in (*forward.terms.items(), *forward.losses.items()):
        # the same computation; eval's Σ value·n / n in float64 rounds at 1e-16
        torch.testing.assert_close(report["terms"][key], value.item(), rtol=1e-6, atol=1e-8)
        assert f"  {key:<16} {report['terms'][key]:.4f}" in output
    for key, value in independent.items():
        # float32 reductions in another order: a few units of float32 rounding
        torch.testing.assert_close(report["terms"][key], value.item(), rtol=1e-5, atol=1e-7)
    loss = LOSSES[name](report["terms"])
    torch.testing.assert_close(report["terms"]["loss"], loss, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["vae", "vqvae"])
def test_train_sample_eval(tmp_path, name, digits):
    sets = [a for s in (*TINY, *FITTING.get(name, ())) for a in ("--set", s)]
    out = tmp_path / name
    result = run(
        "train",
        f"specs/models/{name}.toml",
        "--data",
        "sklearn_digits",
        "--epochs",
        2,
        *sets,
        "--out",
        out,
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    assert f"run:             {out}" in result.output
    assert f"samples:         {out / 'samples.png'}" in result.output
    for file in (
        "spec.toml",
        "training.json",
        "environment.json",
        "metrics.jsonl",
        "model.safetensors",
        "last.safetensors",
        "samples.png",
        "reconstructions.png",
    ):
        assert (out / file).exists(), file
    assert Image.open(out / "samples.png").size == (8 * 8 + 9 * 2,) * 2
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2

    result = run("sample", out, "--sampler", "gmm", "-n", 16, "--out", tmp_path / "g.png")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "g.png").size == (8 * 8 + 9 * 2, 2 * 8 + 3 * 2)

    result = run("eval", out)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "eval-test-best.json").read_text())
    assert (report["split"], report["weights"], report["images"]) == ("test", "best", 359)
    assert f"test MSE per pixel (best weights, 359 images): {report['mse']:.5f}" in result.output
    _check_eval_report(name, out, report, result.output, digits)
    assert 0 < report["mse"] < 0.2  # and the model learned something

    result = run(
        "train",
        f"specs/models/{name}.toml",
        "--data",
        "sklearn_digits",
        "--epochs",
        3,
        *sets,
        "--out",
        out,
        "--quiet",
        "--resume",
    )
    assert result.exit_code == 0, result.output
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 3


def test_data_outside_the_decoders_range_is_refused(tmp_path):
    import numpy as np

    np.save(tmp_path / "x.npy", np.linspace(0, 2, 30 * 64, dtype=np.float32).reshape(30, 1, 8, 8))
    sets = [a for s in TINY for a in ("--set", s)]
    result = run(
        "train",
        "specs/models/vae.toml",
        "--data",
        tmp_path / "x.npy",
        *sets,
        "--out",
        tmp_path / "r",
    )
    assert result.exit_code == 1
    assert result.output.startswith(
        f"error: data '{tmp_path / 'x.npy'}' has values in [0, 2], outside [0, 1]: the mlp "
        "decoder ends in a sigmoid, so reconstructions lie in [0, 1]; fix: rescale the data"
    )
    assert not (tmp_path / "r").exists()


def test_an_interrupted_run_says_how_to_resume(tmp_path, monkeypatch):
    from gaespec.training.trainer import Trainer

    def interrupted(self, x, share=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    sets = [a for s in TINY for a in ("--set", s)]
    result = run(
        "train", "specs/models/vae.toml", "--data", "sklearn_digits", *sets, "--out", tmp_path
    )
    assert result.exit_code == 130
    assert result.output.strip() == (
        "interrupted; the last finished epoch is kept: continue with gaespec train "
        f"specs/models/vae.toml --out {tmp_path} --resume (and the same --set/--data)"
    )


def test_a_loss_fault_shows_a_caret(tmp_path):
    result = run("validate", "specs/models/vae.toml", "--set", 'objective.loss="recon + * kl"')
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "error: --set: objective.loss: unexpected '*' in loss expression at column 9 of "
        "'recon + * kl'",
        "    recon + * kl",
        "            ^",
    ]


def test_build_writes_and_check_finds_stale_files(tmp_path):
    from gaespec.codegen import emit

    out = tmp_path / "gen"
    result = run("build", "vae", "specs/models/ae.toml", "-o", out)
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {out / 'vae.py'}\nwrote {out / 'ae.py'}\n"
    assert (out / "vae.py").read_text() == emit("specs/models/vae.toml")
    assert run("build", "vae", "ae", "-o", out, "--check").output == f"ok  {out} is current\n"

    (out / "vae.py").write_text((out / "vae.py").read_text() + "# edited by hand\n")
    (out / "ae.py").unlink()
    result = run("build", "vae", "ae", "--out", out, "--check")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"stale: {out / 'vae.py'} differs from what specs/models/vae.toml emits now",
        f"stale: {out / 'ae.py'} is missing (spec specs/models/ae.toml)",
        "run `gaespec build` to regenerate",
    ]


def test_build_applies_overrides_and_refuses_two_specs_of_one_name(tmp_path):
    result = run("build", "beta_vae", "-o", tmp_path, "--set", "params.beta=2.5")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "beta_vae.py").read_text()
    assert "beta: float = 2.5,  # params.beta" in text
    assert "(specs/models/beta_vae.toml, with --set\n# params.beta=2.5)." in text
    assert (
        run("build", "beta_vae", "-o", tmp_path, "--set", "params.beta=2.5", "--check").exit_code
        == 0
    )
    assert run("build", "beta_vae", "-o", tmp_path, "--check").exit_code == 1
    result = run("build", "vae", "specs/models/vae.toml", "-o", tmp_path)
    assert result.exit_code == 1
    assert result.output == (
        "error: specs/models/vae.toml: model.name: two specs are called 'vae' "
        "(specs/models/vae.toml and specs/models/vae.toml); each emits <name>.py\n"
    )


def test_build_into_a_file_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run("build", "vae", "-o", blocker)
    assert result.exit_code == 1
    assert result.output.startswith(f"error: cannot write generated files into '{blocker}': ")
    assert "Traceback" not in result.output


def test_check_does_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    import shutil

    project = tmp_path / "project"
    (project / "specs").mkdir(parents=True)
    shutil.copy("specs/models/vae.toml", project / "specs" / "mine.toml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(project)
    assert run("build", "specs/mine.toml", "-o", "generated").exit_code == 0
    assert "(specs/mine.toml)." in (project / "generated" / "vae.py").read_text()
    monkeypatch.chdir(elsewhere)
    result = run("build", "../project/specs/mine.toml", "-o", "../project/generated", "--check")
    assert result.exit_code == 0, result.output


def test_check_reports_unreadable_files_without_a_traceback(tmp_path):
    (tmp_path / "vae.py").mkdir()
    (tmp_path / "ae.py").write_bytes(b"\xff\xfe not utf-8")
    result = run("build", "vae", "ae", "-o", tmp_path, "--check")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(f"stale: {tmp_path / 'vae.py'} cannot be read (IsADirectoryError")
    assert lines[1].startswith(f"stale: {tmp_path / 'ae.py'} cannot be read (UnicodeDecodeError")
    assert "Traceback" not in result.output


def test_eval_measures_the_codes_and_draws_interpolations_and_samplers_are_reused(tmp_path, digits):
    sets = [a for s in TINY for a in ("--set", s)]
    out = tmp_path / "vae"
    trained = run(
        "train", "vae", "--data", "sklearn_digits", "--epochs", 1, *sets, "--out", out, "--quiet"
    )
    assert trained.exit_code == 0, trained.output
    result = run("eval", out, "--latent", "--interpolation")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "eval-test-best.json").read_text())
    for task, runs in (("classification", 20), ("clustering", 100)):
        got = report[task]
        assert (got["runs"], got["images"]) == (runs, 359)
        torch.testing.assert_close(
            (got["mean"], got["std"]),
            (
                float(torch.tensor(got["accuracies"]).double().mean()),
                float(torch.tensor(got["accuracies"]).double().std(unbiased=False)),
            ),
            rtol=1e-6,  # the accuracies are float32 counts / n
            atol=1e-9,
        )
        assert (
            f"{task} accuracy {got['mean']:.4f} ± {got['std']:.4f} ({runs} runs, 359 test images)"
            in result.output
        )
    assert report["interpolation"] == str(out / "interpolation.png")
    assert Image.open(out / "interpolation.png").size == (12 * 8 + 13 * 2, 8 * 8 + 9 * 2)

    maf = ("--sampler", "maf", "--option", "epochs=2", "--option", "hidden=[8]", "-n", 4)
    first = run("sample", out, *maf, "--out", tmp_path / "a.png")
    again = run("sample", out, *maf, "--out", tmp_path / "b.png")
    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    assert first.output.startswith("sampler fitted and saved: ")
    assert again.output.startswith("sampler reused: ")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    saved = [p for p in (out / "samplers").rglob("*") if p.is_file()]
    assert sorted(p.suffix for p in saved) == [".json", ".safetensors"]


def test_help_shows_square_brackets_as_written():
    """Typer renders help as Rich markup, where `[hub]` or `[@REVISION]` would be a style tag and
    vanish: every bracketed piece of a command's or an option's help is in its --help output."""
    import re

    import typer

    group = typer.main.get_command(app)
    checked = 0
    for name, command in group.commands.items():
        texts = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
        written = [b.replace("\\[", "[") for t in texts for b in re.findall(r"\S*\\?\[[^\]\s]*\]", t)]
        if not written:
            continue
        shown = run(name, "--help").output
        for piece in written:
            assert piece.strip("`'") in shown, f"gaespec {name} --help lost {piece!r}"
            checked += 1
    assert checked >= 4  # push's [hub], sample's and eval's [@REVISION], train's [NAME]
