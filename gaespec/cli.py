"""The `gaespec` command: list, build, validate, explain, train, sample, eval, zoo.

A user error (bad spec, bad data, bad run folder) prints one line and exits with status 1; no
traceback. `validate` and `explain`, which only read specs, never import torch.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from gaespec.errors import GaespecError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Generative autoencoders compiled from declarative TOML specs.",
)

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a spec value, e.g. --set params.beta=4 (repeatable)."),
]


def _fail(error: GaespecError) -> None:
    typer.echo(f"error: {error.detail()}", err=True)
    raise typer.Exit(1)


def user_errors(command):
    """Run a command; a GaespecError becomes one line on stderr and exit status 1."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except GaespecError as error:
            _fail(error)

    return run


@app.command("list")
@user_errors
def list_() -> None:
    """List the built-in specs and every component kind, net, data source and sampler."""
    from gaespec.data import known_sources
    from gaespec.nets import arch_names
    from gaespec.samplers import known_samplers
    from gaespec.spec.load import builtin_specs, load_spec
    from gaespec.spec.vocabulary import CUSTOMIZABLE, DECLARATIONS

    typer.echo("specs (specs/models):")
    specs = builtin_specs()
    width = max(map(len, specs), default=0)
    for name, path in specs.items():
        try:
            model = load_spec(path).model
            line = f"{model.summary}" + (f"  [{model.reference}]" if model.reference else "")
        except GaespecError as error:
            line = f"(invalid: {error})"
        typer.echo(f"  {name:<{width}} {line}")
    for role, registry in DECLARATIONS.items():
        typer.echo(f"{role} kinds:")
        for kind, cls in registry.items():
            typer.echo(f"  {kind:<22} {cls.summary}")
        if role in CUSTOMIZABLE:
            typer.echo(f"  {'package.module:Class':<22} {CUSTOMIZABLE[role].summary}")
    typer.echo("nets: " + ", ".join(arch_names()) + ", or package.module:Class")
    typer.echo("data: " + ", ".join(known_sources()) + "  (default: mnist5k)")
    typer.echo("samplers: " + ", ".join(known_samplers()))


@app.command()
@user_errors
def build(
    specs: Annotated[
        list[Path] | None,
        typer.Argument(help="Spec files or built-in names; every spec in specs/models if none."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder of the generated files.")] = Path(
        "generated"
    ),
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 if a generated file is not current."),
    ] = False,
    set_: SetOption = None,
) -> None:
    """Emit each spec as one standalone PyTorch file, <out>/<name>.py (needs torch and einops)."""
    from gaespec.codegen import stale, write

    if check:
        problems = stale(specs or [], out, set_ or [])
        for problem in problems:
            typer.echo(f"stale: {problem}", err=True)
        if problems:
            typer.echo("run `gaespec build` to regenerate", err=True)
            raise typer.Exit(1)
        typer.echo(f"ok  {out} is current")
        return
    for path in write(specs or [], out, set_ or []):
        typer.echo(f"wrote {path}")


@app.command()
def validate(
    specs: Annotated[list[Path], typer.Argument(help="Spec files to check.")],
    set_: SetOption = None,
) -> None:
    """Load, lower and check each spec (names, cycles, gradients, shapes); nothing is trained."""
    from gaespec.graph.lower import lower
    from gaespec.spec.load import load_spec

    failed = 0
    for path in specs:
        try:
            graph = lower(load_spec(path, set_ or []))
        except GaespecError as error:
            failed += 1
            typer.echo(f"error: {error.detail()}", err=True)
            continue
        typer.echo(
            f"ok  {path}  ({graph.name}: {len(graph.objectives)} objective(s), "
            f"{len(graph.spec.terms)} term(s))"
        )
    if failed:
        raise typer.Exit(1)


@app.command()
@user_errors
def explain(spec: Path, set_: SetOption = None) -> None:
    """Show the resolved spec, each objective's loss as a formula, and the graph's nodes."""
    from gaespec.graph.lower import lower
    from gaespec.spec.load import load_spec
    from gaespec.spec.loss import to_formula
    from gaespec.spec.toml_writer import spec_toml

    graph = lower(load_spec(spec, set_ or []))
    typer.echo(f"# {graph.name}: resolved spec")
    typer.echo(spec_toml(graph.spec))
    typer.echo("# objectives")
    for objective in graph.objectives:
        typer.echo(f"{objective.name} = {to_formula(objective.loss)}")
        typer.echo(
            f"    trains: {', '.join(objective.params)}  "
            f"optimizer: {objective.optimizer.name} lr={objective.optimizer.lr}"
        )
    typer.echo("\n# program")
    for call in graph.program.calls:
        notes = [
            note
            for note, on in (
                ("built-in", call.builtin),
                ("per sample", call.folded),
                ("term", call.term),
                ("with gradients", call.grad),
            )
            if on
        ]
        args = ", ".join([*call.reads, *call.modules])
        line = f"{', '.join(call.writes)} = {call.callee}({args})"
        typer.echo(line + (f"  [{', '.join(notes)}]" if notes else ""))
    typer.echo("\n# graph")
    g = graph.graph
    for role in ("tensor", "module", "call", "term", "param", "schedule", "objective"):
        names = graph.nodes(role)
        if not names:
            continue
        typer.echo(f"{role}s:")
        for name in names:
            attrs = g.nodes[f"{role}:{name}"]
            inputs = [
                g.nodes[p]["name"]
                + (" (detached)" if g.edges[p, f"{role}:{name}"].get("detached") else "")
                for p in g.predecessors(f"{role}:{name}")
            ]
            extra = ""
            if role == "tensor":
                shape = attrs.get("shape")
                extra = "×".join(map(str, shape)) if shape else "(set when built)"
            elif role == "param":
                extra = f"= {attrs['value']}"
            elif role == "schedule":
                extra = f"{attrs['kind']}({', '.join(map(str, attrs['args']))}) per {attrs['unit']}"
            elif "kind" in attrs:
                extra = attrs["kind"] + (
                    " (straight-through)" if attrs.get("straight_through") else ""
                )
            arrow = f"  ← {', '.join(inputs)}" if inputs else ""
            typer.echo(f"  {name:<16} {extra}{arrow}")


@app.command()
@user_errors
def train(
    spec: Path,
    data: Annotated[
        str | None,
        typer.Option(help="mnist5k, sklearn_digits, mnist:DIR, cifar10:DIR, celeba:DIR, x.npy"),
    ] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Epochs (default: the spec's)")] = None,
    set_: SetOption = None,
    out: Annotated[Path | None, typer.Option(help="Run folder (default runs/<name>)")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out")] = False,
    device: Annotated[
        str | None, typer.Option(help="cpu or cuda (default: cuda if present)")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar")] = False,
) -> None:
    """Train a spec; writes the run folder, then samples and reconstructions of test images."""
    import torch

    from gaespec.images import reconstruction_grid, save_grid
    from gaespec.metrics import reconstruction_mse
    from gaespec.runs import RECONSTRUCTIONS, SAMPLES
    from gaespec.spec.load import load_spec
    from gaespec.training.run import train as train_run

    loaded = load_spec(spec, set_ or [])
    try:
        run = train_run(
            loaded,
            data=data,
            epochs=epochs,
            out=out,
            resume=resume,
            progress=not quiet and sys.stderr.isatty(),
            device=device,
        )
    except KeyboardInterrupt:
        folder = out or Path("runs") / loaded.model.name
        typer.echo(
            f"interrupted; the last finished epoch is kept: continue with "
            f"gaespec train {spec} --out {folder} --resume (and the same --set/--data)",
            err=True,
        )
        raise typer.Exit(130) from None
    if not run.main:
        return  # under torchrun, rank 0 alone writes and reports
    model = run.model.eval()
    mse = reconstruction_mse(model, run.data.test.x)
    typer.echo(f"test MSE (last epoch, posterior mean): {mse:.4f}")
    typer.echo(f"run:             {run.path}")
    if len(loaded.input.shape) != 3:
        typer.echo("(no image grids: the samples are not images of shape c×h×w)")
        return
    with torch.no_grad():
        x = run.data.test.x[:32].to(next(model.parameters()).device)
        save_grid(reconstruction_grid(x, model.reconstruct(x)), run.path / RECONSTRUCTIONS)
        torch.manual_seed(loaded.train.seed)
        save_grid(model.sample(64), run.path / SAMPLES)
    typer.echo(f"samples:         {run.path / SAMPLES}")
    typer.echo(f"reconstructions: {run.path / RECONSTRUCTIONS}")


def _run_data(model):
    """The data a loaded run was trained on, split and checked as in training."""
    from gaespec.data import load_data
    from gaespec.training.run import data_range

    spec, training = model.run.spec, model.run.training
    data = load_data(training.get("data", spec.train.data), seed=spec.train.seed)
    low, high, why = data_range(spec) or (-float("inf"), float("inf"), "")
    data.check(tuple(spec.input.shape), low=low, high=high, why=why)
    return data


@app.command()
@user_errors
def sample(
    run: Path,
    sampler: Annotated[str, typer.Option(help="prior or gmm (fitted on training codes)")] = "prior",
    n: Annotated[int, typer.Option("-n", "--n", min=1, help="How many images")] = 64,
    out: Annotated[
        Path | None, typer.Option(help="PNG grid (default RUN/samples-SAMPLER.png)")
    ] = None,
    seed: int = 0,
    trust_code: Annotated[
        bool, typer.Option(help="Allow a run's custom nets to be imported")
    ] = False,
) -> None:
    """Generate images from a trained run with a sampler; writes a PNG grid."""
    import torch

    from gaespec.images import save_grid
    from gaespec.runs import load_run
    from gaespec.samplers import make_sampler

    model = load_run(run, trust_code=trust_code)
    x_train = None if sampler == "prior" else _run_data(model).train.x
    chosen = make_sampler(sampler)
    chosen.fit(model, x_train)
    images = chosen.sample(n, generator=torch.Generator().manual_seed(seed))
    out = out or Path(run) / f"samples-{sampler}.png"
    save_grid(images, out)
    typer.echo(f"{n} samples ({sampler}): {out}")


@app.command()
@user_errors
def zoo(
    specs: Annotated[
        list[Path] | None, typer.Argument(help="Specs (default: every spec in specs/models)")
    ] = None,
    data: Annotated[
        str, typer.Option(help="mnist5k, sklearn_digits, mnist:DIR, cifar10:DIR, celeba:DIR, x.npy")
    ] = "mnist5k",
    epochs: Annotated[int, typer.Option(min=1, help="Epochs for every spec")] = 5,
    set_: SetOption = None,
    out: Annotated[Path, typer.Option(help="Folder of the runs, one per spec")] = Path("runs/zoo"),
    table: Annotated[Path | None, typer.Option(help="Write the Markdown table here too")] = None,
) -> None:
    """Train every spec the same epochs on the same data (resuming what was interrupted), then
    print a Markdown table of test MSE, seconds per epoch and parameters."""
    from gaespec.atomic import atomic_write_text
    from gaespec.bench.zoo import markdown, zoo_row
    from gaespec.spec.load import builtin_specs

    paths = list(specs) if specs else [path for _, path in sorted(builtin_specs().items())]
    rows = []
    for i, path in enumerate(paths, start=1):
        typer.echo(f"[{i}/{len(paths)}] {path}", err=True)
        rows.append(
            zoo_row(path, data=data, epochs=epochs, out=out, overrides=set_ or [], log=_to_stderr)
        )
    words = ["gaespec", "zoo", *map(str, specs or []), "--data", data, "--epochs", str(epochs)]
    words += [w for s in set_ or [] for w in ("--set", s)]
    text = markdown(rows, data=data, epochs=epochs, command=" ".join(words))
    if table is not None:
        atomic_write_text(table, text)
    typer.echo(text, nl=False)


def _to_stderr(*parts) -> None:
    typer.echo(" ".join(map(str, parts)), err=True)


@app.command("eval")
@user_errors
def eval_(
    run: Path,
    split: Annotated[str, typer.Option(help="test or validation")] = "test",
    which: Annotated[str, typer.Option(help="best (on validation) or last")] = "best",
    trust_code: Annotated[
        bool, typer.Option(help="Allow a run's custom nets to be imported")
    ] = False,
) -> None:
    """Evaluate a run: reconstruction MSE per pixel (posterior mean) and every loss term."""
    import torch

    from gaespec.atomic import atomic_write_text
    from gaespec.metrics import reconstruction_mse
    from gaespec.runs import load_run

    if split not in ("test", "validation"):
        raise GaespecError(
            f"split must be 'test' or 'validation', not '{split}'",
            name=split,
            choices=["test", "validation"],
        )
    model = load_run(run, which=which, trust_code=trust_code)
    data = _run_data(model)
    x = getattr(data, split).x
    result = {
        "split": split,
        "weights": which,
        "images": len(x),
        "mse": reconstruction_mse(model, x),
    }
    torch.manual_seed(0)
    with torch.no_grad():
        sums: dict[str, float] = {}
        for batch in torch.split(x, 500):
            # as when the weights were validated: after run.step steps, in epoch run.epoch - 1
            out = model(
                batch,
                step=model.run.step,
                epoch=max(model.run.epoch - 1, 0),
                dataset_size=len(data.train),
            )
            for name, value in (*out.terms.items(), *out.losses.items()):
                sums[name] = sums.get(name, 0.0) + value.item() * len(batch)
    result["terms"] = {name: total / len(x) for name, total in sums.items()}
    atomic_write_text(Path(run) / f"eval-{split}-{which}.json", json.dumps(result, indent=2))
    typer.echo(f"{split} MSE per pixel ({which} weights, {len(x)} images): {result['mse']:.5f}")
    for name, value in result["terms"].items():
        typer.echo(f"  {name:<16} {value:.4f}")


def main() -> None:
    """Entry point for `python -m gaespec`."""
    app()
