"""The `gaespec` command: list, build, validate, explain, graph, train, sample, eval, export,
push, runs, compare, zoo, bench.

A user error (bad spec, bad data, bad run folder) prints one line and exits with status 1; no
traceback. `list`, `validate`, `explain`, `graph` and `runs`, which only read specs and run
folders, never import torch.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from gaespec.errors import GaespecError

# the data sources --data takes (the names of gaespec.builtin_names.DATA_SOURCES)
DATA_HELP = "mnist5k, sklearn_digits, mnist:DIR, cifar10:DIR, celeba:DIR, folder:DIR, x.npy"

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
    from gaespec.builtin_names import DATA_SOURCES, SAMPLERS
    from gaespec.nets import arch_names
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
    typer.echo("data: " + ", ".join(DATA_SOURCES) + "  (default: mnist5k)")
    typer.echo("samplers: " + ", ".join(SAMPLERS))


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
        callee = f"{call.callee}.{call.method}" if call.method else call.callee
        line = f"{', '.join(call.writes)} = {callee}({args})"
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
        typer.Option(help=DATA_HELP),
    ] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Epochs (default: the spec's)")] = None,
    set_: SetOption = None,
    out: Annotated[Path | None, typer.Option(help="Run folder (default runs/<name>)")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out")] = False,
    device: Annotated[
        str | None, typer.Option(help="cpu or cuda (default: cuda if present)")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar")] = False,
    track: Annotated[
        list[str] | None,
        typer.Option(
            help="Experiment trackers, comma separated: tensorboard, mlflow, wandb "
            "(pip install 'gaespec[NAME]')"
        ),
    ] = None,
) -> None:
    """Train a spec; writes the run folder, then its training curves, samples and
    reconstructions of test images. Under torchrun (`torchrun --nproc-per-node N -m gaespec
    train ...`) it trains data-parallel, the spec's batch shared by the N processes."""
    import torch

    from gaespec.images import reconstruction_grid, save_grid
    from gaespec.metrics import reconstruction_mse
    from gaespec.plots import write_curves
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
            track=[name for given in track or [] for name in given.split(",")],
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
    typer.echo(f"curves:          {write_curves(run.path).path}")
    if len(loaded.input.shape) != 3:
        typer.echo("(no image grids: the samples are not images of shape c×h×w)")
        return
    with torch.no_grad():
        x = run.data.test.head(32).to(next(model.parameters()).device)
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


SamplerOption = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        help="A sampler option KEY=VALUE, read as TOML, e.g. --option n_components=10 "
        "(repeatable).",
    ),
]


@app.command()
@user_errors
def sample(
    run: Annotated[str, typer.Argument(help=r"A run folder, or hf://ORG/NAME\[@REVISION]")],
    sampler: Annotated[
        str,
        typer.Option(
            help="prior, gmm, maf, iaf, two_stage or vamp; fitted ones are saved in "
            "RUN/samplers/ and reused"
        ),
    ] = "prior",
    n: Annotated[int, typer.Option("-n", "--n", min=1, help="How many images")] = 64,
    out: Annotated[
        Path | None, typer.Option(help="PNG grid (default RUN/samples-SAMPLER.png)")
    ] = None,
    seed: Annotated[int, typer.Option(help="The seed of the draws")] = 0,
    option: SamplerOption = None,
    trust_code: Annotated[
        bool, typer.Option(help="Allow a run's custom nets to be imported")
    ] = False,
) -> None:
    """Generate images from a trained run with a sampler; writes a PNG grid."""
    import torch

    from gaespec.hub.names import working_folder
    from gaespec.images import save_grid
    from gaespec.runs import load_run
    from gaespec.samplers import fitted_sampler, make_sampler, parse_options

    model = load_run(run, trust_code=trust_code)
    run = working_folder(run)  # a Hub model's outputs go to runs/hf/, never into the Hub's cache
    options = parse_options(option or [])
    # bad names and options fail here, before any data loads
    needs_codes = make_sampler(sampler, **options).uses_codes
    x_train = _run_data(model).train.x if needs_codes else None
    chosen = fitted_sampler(run, model, sampler, x_train, **options)
    if chosen.saved_in is not None:
        how = "reused" if chosen.reused else "fitted and saved"
        typer.echo(f"sampler {how}: {chosen.saved_in}")
    images = chosen.sample(n, generator=torch.Generator().manual_seed(seed))
    out = out or Path(run) / f"samples-{sampler}.png"
    save_grid(images, out)
    typer.echo(f"{n} samples ({sampler}): {out}")


LicenseOption = Annotated[
    str | None,
    typer.Option("--license", help="The model card's license, an SPDX id such as mit (else none)"),
]


@app.command()
@user_errors
def export(
    run: Annotated[Path, typer.Argument(help="A run folder (the --out of `gaespec train`)")],
    out: Annotated[Path, typer.Argument(help="The folder to write, new or empty")],
    force: Annotated[bool, typer.Option(help="Write into a folder that is not empty")] = False,
    license_: LicenseOption = None,
) -> None:
    """Write a run in the Hugging Face Hub's model layout: model.safetensors (the best weights),
    spec.toml, config.json, and a model card README.md with the metrics and the sample grid."""
    from gaespec.hub import EXPORTED, export_run

    folder = export_run(run, out, force=force, license=license_)
    written = [name for name in EXPORTED if (folder / name).exists()]
    typer.echo(f"exported {run} to {folder}: {', '.join(written)}")


@app.command()
@user_errors
def push(
    run: Annotated[Path, typer.Argument(help="A run folder (the --out of `gaespec train`)")],
    repo: Annotated[str, typer.Argument(help="The Hub model repository, ORG/NAME")],
    private: Annotated[bool, typer.Option(help="Make the repository private if it is new")] = False,
    token: Annotated[
        str | None,
        typer.Option(help="A Hugging Face token (default: HF_TOKEN or `hf auth login`'s)"),
    ] = None,
    license_: LicenseOption = None,
) -> None:
    """Export a run (as `gaespec export`) and upload it to a Hugging Face Hub model repository,
    made when missing; needs `pip install 'gaespec\\[hub]'` and a network."""
    from gaespec.hub import push_run

    url = push_run(run, repo, private=private, token=token, license=license_)
    typer.echo(f"pushed {run} to {url}; load it with gaespec.load_run('hf://{repo}')")


@app.command()
@user_errors
def zoo(
    specs: Annotated[
        list[Path] | None, typer.Argument(help="Specs (default: every spec in specs/models)")
    ] = None,
    data: Annotated[str, typer.Option(help=DATA_HELP)] = "mnist5k",
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


@app.command()
@user_errors
def bench(
    models: Annotated[
        str | None, typer.Option(help="Comma-separated specs (default: every built-in spec)")
    ] = None,
    data: Annotated[str, typer.Option(help=DATA_HELP.removesuffix(", x.npy"))] = "mnist5k",
    nets: Annotated[
        str, typer.Option(help="spec (each spec's own nets), convnet or resnet (Pythae's)")
    ] = "spec",
    latent_dims: Annotated[str, typer.Option(help="Comma-separated latent dimensions")] = "16",
    epochs: Annotated[int, typer.Option(min=1, help="Epochs of every run")] = 5,
    grid: Annotated[
        Path | None,
        typer.Option(help="TOML grid of configurations (default specs/bench/grid.toml)"),
    ] = None,
    configs: Annotated[
        str, typer.Option(help="all (the grid's product) or first (one configuration per model)")
    ] = "all",
    samplers: Annotated[
        str, typer.Option(help="Comma-separated samplers of Table 3 (none: empty)")
    ] = "prior,gmm",
    fid_samples: Annotated[
        int,
        typer.Option(
            min=0, help="Images per FID, KID and IS (Inception: ~3 images/s here; 0: none)"
        ),
    ] = 1000,
    out: Annotated[Path, typer.Option(help="Folder of the runs and the tables")] = Path(
        "runs/bench"
    ),
    set_: SetOption = None,
    executor: Annotated[str, typer.Option(help="local (one run at a time) or ray")] = "local",
    address: Annotated[
        str | None, typer.Option(help="The Ray cluster's address (default: a local instance)")
    ] = None,
    cpus_per_run: Annotated[
        float,
        typer.Option(
            min=0.01,
            help="Ray: CPUs (and torch threads) per run; as many as one local process "
            "has gives the local bench's arithmetic",
        ),
    ] = 1,
) -> None:
    """Train and measure models as the Pythae study did (resuming what was interrupted), select
    each model's configuration on validation, and write Tables 1–3 (Markdown and CSV), the
    interpolation grids and the latent-dimension figure."""
    import time

    from gaespec.bench.bench import BenchSettings, write_outputs
    from gaespec.bench.bench import bench as run_bench
    from gaespec.bench.grid import load_grid
    from gaespec.spec.load import builtin_specs, parse_overrides

    def numbers(text: str, option: str) -> list[int]:
        try:
            values = [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            values = []
        if not values or min(values) < 1:
            raise GaespecError(
                f"'{text}' is not a list of positive integers",
                key=option,
                fix=f"e.g. {option} 16,32",
            )
        return values

    if configs not in ("all", "first"):
        raise GaespecError(
            f"--configs must be 'all' or 'first', not '{configs}'",
            name=configs,
            choices=["all", "first"],
        )
    chosen = load_grid(grid)
    chosen = chosen.only_first() if configs == "first" else chosen
    settings = BenchSettings(
        models=[m for m in (models or ",".join(builtin_specs())).split(",") if m],
        data=data,
        latent_dims=numbers(latent_dims, "--latent-dims"),
        epochs=epochs,
        nets=nets,
        samplers=[s for s in samplers.split(",") if s],
        fid_samples=fid_samples,
        out=out,
        overrides=parse_overrides(set_ or []),
    )
    options = {"address": address, "cpus_per_run": cpus_per_run} if executor == "ray" else {}
    started = time.monotonic()
    sections = run_bench(
        settings, chosen, executor=executor, executor_options=options, log=_to_stderr
    )
    words = ["gaespec", "bench", *sys.argv[2:]] if sys.argv[1:2] == ["bench"] else ["gaespec bench"]
    written = write_outputs(settings, sections, command=" ".join(words))
    typer.echo(written["markdown"].read_text(encoding="utf-8"), nl=False)
    for what, path in written.items():
        typer.echo(f"{what}: {path}", err=True)
    typer.echo(f"bench done in {(time.monotonic() - started) / 60:.1f} min", err=True)


def _to_stderr(*parts) -> None:
    typer.echo(" ".join(map(str, parts)), err=True)


@app.command("eval")
@user_errors
def eval_(
    run: Annotated[str, typer.Argument(help=r"A run folder, or hf://ORG/NAME\[@REVISION]")],
    split: Annotated[str, typer.Option(help="test or validation")] = "test",
    which: Annotated[str, typer.Option(help="best (on validation) or last")] = "best",
    fid: Annotated[
        bool, typer.Option(help="FID of the reconstructions, beside the data's own FID floor")
    ] = False,
    generation: Annotated[
        str | None,
        typer.Option(help="Samplers whose images get FID, KID and IS, e.g. prior,gmm"),
    ] = None,
    fid_samples: Annotated[
        int, typer.Option(min=2, help="Images per FID, KID and IS (Inception: ~3 images/s here)")
    ] = 1000,
    latent: Annotated[
        bool, typer.Option(help="Classification (20 runs) and clustering (100 runs) accuracy")
    ] = False,
    interpolation: Annotated[
        bool, typer.Option(help="Write RUN/interpolation.png: paths between test pairs")
    ] = False,
    trust_code: Annotated[
        bool, typer.Option(help="Allow a run's custom nets to be imported")
    ] = False,
) -> None:
    """Evaluate a run: reconstruction MSE per pixel (posterior mean) and every loss term; FID,
    KID, IS, classification, clustering and interpolations when asked."""
    import torch

    from gaespec.atomic import atomic_write_text
    from gaespec.hub.names import working_folder
    from gaespec.metrics import reconstruction_mse
    from gaespec.runs import load_run

    if split not in ("test", "validation"):
        raise GaespecError(
            f"split must be 'test' or 'validation', not '{split}'",
            name=split,
            choices=["test", "validation"],
        )
    model = load_run(run, which=which, trust_code=trust_code)
    run = working_folder(run)  # a Hub model's outputs go to runs/hf/, never into the Hub's cache
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
    typer.echo(f"{split} MSE per pixel ({which} weights, {len(x)} images): {result['mse']:.5f}")
    for name, value in result["terms"].items():
        typer.echo(f"  {name:<16} {value:.4f}")
    result.update(
        _further_measurements(
            run, model, data, split, fid, generation, fid_samples, latent, interpolation
        )
    )
    atomic_write_text(Path(run) / f"eval-{split}-{which}.json", json.dumps(result, indent=2))


def _further_measurements(run, model, data, split, fid, generation, n, latent, interpolation):
    """What `eval` measures beyond the MSE when asked, printed as it comes; for the report."""
    from gaespec import evaluation
    from gaespec.metrics import FidelityResult

    result: dict = {}

    def show(metric: dict) -> None:
        typer.echo(str(FidelityResult(**metric)))

    if fid:
        typer.echo(f"Inception features of up to {n} images (cached for the data's own images):")
        result["reconstruction_fid"] = evaluation.reconstruction_fid(model, data, split, n)
        result["fid_floor"] = evaluation.fid_floor(data, split, n)
        typer.echo("reconstructions: " + str(FidelityResult(**result["reconstruction_fid"])))
        typer.echo("floor (training vs " + split + " images): ", nl=False)
        show(result["fid_floor"])
    for sampler in [s for s in (generation or "").split(",") if s]:
        got = evaluation.sampler_fidelity(run, model, data, sampler, split, n)
        result.setdefault("generation", {})[sampler] = got
        for metric in got.values():
            typer.echo(f"{sampler}: ", nl=False)
            show(metric)
    if latent:
        result.update(evaluation.latent_accuracies(model, data, split))
        for task in ("classification", "clustering"):
            got = result[task]
            typer.echo(
                f"{task} accuracy {got['mean']:.4f} ± {got['std']:.4f} "
                f"({got['runs']} runs, {got['images']} {split} images)"
            )
    if interpolation:
        from gaespec.metrics import save_interpolations

        path = save_interpolations(model, getattr(data, split).x, Path(run) / "interpolation.png")
        result["interpolation"] = str(path)
        typer.echo(f"interpolations: {path}")
    return result


@app.command("runs")
@user_errors
def runs_(
    folder: Annotated[Path, typer.Argument(help="The folder that holds the runs")] = Path("runs"),
    depth: Annotated[int, typer.Option(min=0, help="Folder levels searched below it")] = 6,
) -> None:
    """List the runs under a folder: model, data, epochs done/planned, last validation metrics."""
    from gaespec.run_list import find_runs, runs_table, summarize

    found = find_runs(folder, depth)
    if not found:
        typer.echo(f"no runs under {folder} (a run folder holds spec.toml and metrics.jsonl)")
        return
    typer.echo(runs_table([summarize(path) for path in found]), nl=False)


@app.command()
@user_errors
def compare(
    runs: Annotated[list[Path], typer.Argument(help="Run folders to plot together")],
    out: Annotated[Path, typer.Option(help="The PNG to write")] = Path("compare.png"),
    terms: Annotated[
        str | None,
        typer.Option(help="Comma-separated terms or objectives (default: the shared terms)"),
    ] = None,
) -> None:
    """Plot runs' training curves together: a panel per shared term, a colour per run,
    validation solid and train dashed."""
    from gaespec.plots import compare_runs

    names = None if terms is None else [t.strip() for t in terms.split(",") if t.strip()]
    plot = compare_runs(runs, out, terms=names)
    typer.echo(f"wrote {plot.path} ({len(runs)} runs, {len(plot.panels)} panel(s))")


@app.command()
@user_errors
def graph(
    spec: Path,
    set_: SetOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="FILE.dot (DOT only), FILE.png/.svg/.pdf (image and FILE.dot), or FILE (both); "
            "default: print the DOT"
        ),
    ] = None,
) -> None:
    """Draw the model's graph: DOT text always, an image where Graphviz's `dot` is installed."""
    from gaespec.graph.dot import INSTALL, graph_files, to_dot, write_graph
    from gaespec.graph.lower import lower
    from gaespec.spec.load import load_spec

    graph = lower(load_spec(spec, set_ or []))
    if out is None:
        typer.echo(to_dot(graph), nl=False)
        return
    wanted = graph_files(out)[1]
    dot_path, image = write_graph(graph, out)
    typer.echo(f"wrote {dot_path}")
    if image is not None:
        typer.echo(f"wrote {image}")
    elif wanted is not None:
        typer.echo(
            f"note: no image, Graphviz's `dot` is not installed: {INSTALL} and run "
            f"`dot -T{wanted.suffix[1:]} {dot_path} -o {wanted}`, or paste {dot_path} into any "
            "Graphviz viewer"
        )


def main() -> None:
    """Entry point for `python -m gaespec`."""
    app()
