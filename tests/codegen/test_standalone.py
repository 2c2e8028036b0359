"""The files in generated/ are current, lint-clean, and run where gaespec cannot be imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from gaespec.cli import app
from gaespec.spec.load import builtin_specs

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "generated"

# a meta-path finder that refuses gaespec, installed before anything else is imported
BLOCK_GAESPEC = textwrap.dedent(
    """
    import importlib.abc
    import sys


    class NoGaespec(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "gaespec" or name.startswith("gaespec."):
                raise ImportError("gaespec is off the path in this interpreter")


    sys.meta_path.insert(0, NoGaespec())
    try:
        import gaespec  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("gaespec could still be imported")
    """
)


def test_generated_holds_every_builtin_spec_and_is_current(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert sorted(p.stem for p in GENERATED.glob("*.py")) == sorted(builtin_specs())
    result = CliRunner().invoke(app, ["build", "--check"])
    assert result.exit_code == 0, result.output
    assert result.output == "ok  generated is current\n"


def test_generated_files_are_formatted_and_lint_clean():
    files = [str(p) for p in sorted(GENERATED.glob("*.py"))]
    check = subprocess.run(
        [sys.executable, "-m", "ruff", "check", *files], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", *files],
        capture_output=True,
        text=True,
    )
    assert formatted.returncode == 0, formatted.stdout


def test_generated_files_train_a_step_without_gaespec(tmp_path):
    for path in GENERATED.glob("*.py"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    script = BLOCK_GAESPEC + textwrap.dedent(
        """
        import importlib

        import torch

        for name in sys.argv[1:]:
            module = importlib.import_module(name)
            model = next(
                v for k, v in vars(module).items()
                if isinstance(v, type) and issubclass(v, torch.nn.Module) and hasattr(v, "encode")
            )()
            torch.manual_seed(0)
            x = torch.rand(4, *module.INPUT_SHAPE)
            out = model(x)
            for loss in out.losses.values():
                loss.backward(retain_graph=True)
            grads = all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
            model.eval()
            with torch.no_grad():
                shapes = {model.reconstruct(x).shape, model.sample_prior(3).shape[1:]}
            values = [*out.terms.values(), *out.losses.values()]
            finite = all(torch.isfinite(t).item() for t in values)
            shapes = sorted(map(tuple, shapes))
            print(name, sorted(out.terms), sorted(out.losses), grads, finite, shapes)
        assert not any(m == "gaespec" or m.startswith("gaespec.") for m in sys.modules)
        """
    )
    (tmp_path / "run_generated.py").write_text(script, encoding="utf-8")
    names = sorted(p.stem for p in GENERATED.glob("*.py"))
    done = subprocess.run(
        [sys.executable, "run_generated.py", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.strip().splitlines())
    assert sorted(lines) == names
    assert lines["vae"] == "['kl', 'recon'] ['loss'] True True [(1, 28, 28), (4, 1, 28, 28)]"
    assert lines["aae"].startswith(
        "['adversarial', 'critic_bce', 'recon'] ['autoencoder', 'critic']"
    )
    assert lines["vqvae"].startswith(
        "['codebook_loss', 'commitment', 'perplexity', 'recon'] ['loss'] True True"
    )
