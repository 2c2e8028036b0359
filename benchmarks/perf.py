"""gaespec's performance benchmark: framework tax, fast paths, Inception features, CLI start.

    python benchmarks/perf.py                      # everything, as the README's table
    python benchmarks/perf.py --sections tax --models vae --nets mlp --rounds 3

Sections:
- tax: for each spec and net, images per second of (a) gaespec's trainer, (b) the emitted file
  and (c) a hand-written loop of the same model (benchmarks/columns.py), timed one epoch at a
  time in interleaved rounds after a warm-up epoch each; the ratios a/c and b/c per round
  (median, with the interquartile range [q1–q3]); peak memory; each column's FLOP/s as a share
  of the machine's matmul ceiling measured in the same run.
- axis: where the emitted file's tax goes, on the MLP VAE: its forward as written, without the
  sample axis, and op for op as the hand-written one (benchmarks/sample_axis.py).
- fast: the fast paths of [train] (bf16, channels-last, torch.compile, convolutions as matmuls
  and some of their combinations) on one model, as images per second against the fp32
  hand-written loop, and the test MSE after the same epochs of real training beside the fp32
  run's.
- inception: images per second of the Inception network in its plain and inference layouts,
  with the largest difference of their features.
- cli: the time of `gaespec validate` on every built-in spec, `gaespec list` and `--help`.
A benchmark, not a test: it prints figures (and writes them with --out), asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import columns as cols  # noqa: E402
import machine  # noqa: E402
import sample_axis  # noqa: E402

SECTIONS = ("tax", "axis", "fast", "inception", "cli")
# batches per timed epoch, by net; the rounds: as many as fit in --seconds per model (many
# short rounds, their order rotating, so that the machine's drift falls alike on each column)
BATCHES = {"mlp": 8, "mnist_convnet": 4}
MIN_ROUNDS, MAX_ROUNDS = 5, 201
FAST_PATHS = (
    {},
    {"precision": "bf16"},
    {"channels_last": True},
    {"precision": "bf16", "channels_last": True},
    {"compile": True},
    {"precision": "bf16", "channels_last": True, "compile": True},
    {"conv_as_matmul": True},
    {"precision": "bf16", "conv_as_matmul": True},
)


def digits(n: int) -> torch.Tensor:
    """n training images of the built-in MNIST digits (1 28 28), in [0, 1]."""
    from gaespec.data import load_data

    return load_data("mnist5k", seed=0).train.x[:n]


def timed_rounds(
    columns: list[cols.Column], rounds: int | None, seconds: float, device, log
) -> dict[str, list[float]]:
    """Images per second of each column, one epoch each per round, the order rotating every
    round, after one warm-up epoch each; each timed epoch starts from the weights and optimiser
    states the warm-up left (Column.reset, untimed). `rounds` None: as many as fit in about
    `seconds` (judged by the warm-up), at least MIN_ROUNDS and at most MAX_ROUNDS."""
    started = time.perf_counter()
    for column in columns:
        column.epoch()
        column.snapshot()
    if rounds is None:
        warm = time.perf_counter() - started
        rounds = max(MIN_ROUNDS, min(MAX_ROUNDS, int(seconds / warm)))
    rates: dict[str, list[float]] = {c.name: [] for c in columns}
    for r in range(rounds):
        for column in columns[r % len(columns) :] + columns[: r % len(columns)]:
            column.reset()
            machine._sync(device)
            started = time.perf_counter()
            column.epoch()
            machine._sync(device)
            rates[column.name].append(column.n / (time.perf_counter() - started))
        if r % 10 == 9 or r == rounds - 1:
            log(
                f"    round {r + 1}/{rounds}: "
                + "  ".join(f"{k} {v[-1]:.1f}" for k, v in rates.items())
            )
    return rates


def ratio(rates: dict[str, list[float]], a: str, c: str) -> tuple[float, float, float]:
    """The per-round ratios a/c: (median, first quartile, third quartile)."""
    ratios = [x / y for x, y in zip(rates[a], rates[c], strict=True)]
    if len(ratios) < 2:
        return ratios[0], ratios[0], ratios[0]
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    return statistics.median(ratios), q1, q3


def shown_ratio(r: tuple[float, float, float]) -> str:
    return f"{r[0]:.3f} [{r[1]:.3f}–{r[2]:.3f}]"


def peak_memory(name: str, net: str, column: str, batch_size: int, device) -> float:
    """Peak memory (MB) of training `column` for a few steps: on a GPU, the most allocated; on a
    CPU, a fresh process's peak resident memory above what it held before building."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        built = _build(column, name, net, digits(3 * batch_size).to(device), batch_size, device)
        built.epoch()
        return torch.cuda.max_memory_allocated(device) / 2**20
    probe = [sys.executable, __file__, "--memory-probe", name, net, column, str(batch_size)]
    return float(subprocess.run(probe, check=True, capture_output=True, text=True).stdout)


def _build(column: str, name, net, x, batch_size, device, **fast) -> cols.Column:
    return {
        "trainer": cols.trainer_column,
        "emitted": cols.emitted_column,
        "hand": cols.hand_column,
    }[column](name, net, x, batch_size, device, **fast)


def memory_probe(name: str, net: str, column: str, batch_size: int) -> None:
    """(A child process) build `column` and train it 3 steps; print the peak resident memory
    it took, in MB, above the process's with torch imported and the data loaded."""
    x = digits(3 * batch_size)
    before = machine.reset_peak_rss()
    _build(column, name, net, x, batch_size, torch.device("cpu")).epoch()
    print(machine.peak_rss_mb() - before)


def tax(args, device, log) -> list[str]:
    """The framework-tax table's rows (markdown)."""
    fp32 = machine.matmul_ceiling(device, torch.float32)
    log(f"fp32 matmul ceiling: {fp32 / 1e9:.1f} GFLOP/s")
    rows = [
        f"matmul ceiling (fp32, 2048²): {fp32 / 1e9:.1f} GFLOP/s",
        "",
        "| spec | net | (a) trainer img/s | (b) emitted img/s | (c) hand img/s | a/c [q1–q3] "
        "| b/c [q1–q3] | peak MB a / b / c | % of ceiling a / b / c |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for net in args.nets:
        x = digits(BATCHES[net] * args.batch_size).to(device)
        for name in args.models:
            log(f"  {name} on {net}")
            columns = [
                _build(c, name, net, x, args.batch_size, device)
                for c in ("trainer", "emitted", "hand")
            ]
            rates = timed_rounds(columns, args.rounds, args.seconds, device, log)
            flops = machine.flops_per_step(columns[2].step, x[: args.batch_size]) / args.batch_size
            medians = {k: statistics.median(v) for k, v in rates.items()}
            memory = (
                [
                    peak_memory(name, net, c, args.batch_size, device)
                    for c in ("trainer", "emitted", "hand")
                ]
                if args.memory
                else []
            )
            share = [100 * flops * medians[c] / fp32 for c in ("trainer", "emitted", "hand")]
            rows.append(
                f"| {name} | {net} | {medians['trainer']:.1f} | {medians['emitted']:.1f} | "
                f"{medians['hand']:.1f} | {shown_ratio(ratio(rates, 'trainer', 'hand'))} | "
                f"{shown_ratio(ratio(rates, 'emitted', 'hand'))} | "
                + (" / ".join(f"{m:.0f}" for m in memory) if memory else "–")
                + " | "
                + " / ".join(f"{s:.1f}" for s in share)
                + " |"
            )
            log(rows[-1])
    return rows


def axis(args, device, log) -> list[str]:
    """Where the emitted file's tax goes (benchmarks/sample_axis.py): the MLP VAE's emitted
    forward as written, without the sample axis, and op for op as the hand-written one."""
    x = digits(BATCHES[sample_axis.NET] * args.batch_size).to(device)
    columns = sample_axis.columns(x, args.batch_size, device)
    rates = timed_rounds(columns, args.rounds, args.seconds, device, log)
    rows = [
        f"the {sample_axis.NAME} on the {sample_axis.NET}, batch {args.batch_size}",
        "",
        "| column | img/s | × hand loop [q1–q3] |",
        "|---|---|---|",
    ]
    for column in columns[:-1]:
        rows.append(
            f"| {column.name} | {statistics.median(rates[column.name]):.1f} | "
            f"{shown_ratio(ratio(rates, column.name, 'hand'))} |"
        )
        log(rows[-1])
    rows.append(f"| hand | {statistics.median(rates['hand']):.1f} | 1 |")
    return rows


def test_mse(options: dict, epochs: int, log) -> float:
    """The test MSE (posterior mean) of the VAE trained `epochs` epochs on the digits with the
    [train] fast paths `options`."""
    import gaespec
    from gaespec.metrics import reconstruction_mse

    overrides = [f"train.{k}={json.dumps(v)}" for k, v in options.items()]
    spec = gaespec.load_spec(ROOT / "specs" / "models" / "vae.toml", overrides)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        run = gaespec.train(spec, epochs=epochs, out=out, progress=False, log=lambda *_: None)
        seconds = time.perf_counter() - started
        log(f"    trained {options or 'fp32'} {epochs} epochs in {seconds:.0f} s")
        return reconstruction_mse(run.model.eval(), run.data.test.x)


def fast(args, device, log) -> list[str]:
    """The fast-path table's rows (markdown): the VAE on the MNIST ConvNet."""
    name, net = "vae", "mnist_convnet"
    x = digits(BATCHES[net] * args.batch_size).to(device)
    bf16 = machine.matmul_ceiling(device, torch.bfloat16)
    log(f"bf16 matmul ceiling: {bf16 / 1e9:.1f} GFLOP/s")
    columns = [cols.hand_column(name, net, x, args.batch_size, device)]
    unavailable = {}
    for options in FAST_PATHS:
        try:
            columns.append(cols.trainer_column(name, net, x, args.batch_size, device, **options))
            if options.get("compile"):
                columns[-1].epoch()  # compile now, to say so if it cannot
        except Exception as error:  # a missing compiler, no bf16 kernels: say so in the table
            unavailable[str(options)] = (
                f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"
            )
            columns = columns[:-1] if columns[-1].options == options else columns
    rates = timed_rounds(columns, args.rounds, args.seconds, device, log)
    mse = {}
    for column in columns[1:]:
        mse[column.name] = test_mse(column.options, args.fast_epochs, log)
    base = mse["trainer"]
    rows = [
        f"bf16 matmul ceiling (2048²): {bf16 / 1e9:.1f} GFLOP/s; the VAE on the MNIST ConvNet, "
        f"batch {args.batch_size}; test MSE after {args.fast_epochs} epochs on the built-in digits",
        "",
        "| column | img/s | × fp32 hand loop [q1–q3] | test MSE | vs fp32 |",
        "|---|---|---|---|---|",
        f"| hand (fp32) | {statistics.median(rates['hand']):.1f} | 1 | – | – |",
    ]
    for column in columns[1:]:
        rows.append(
            f"| {column.name} | {statistics.median(rates[column.name]):.1f} | "
            f"{shown_ratio(ratio(rates, column.name, 'hand'))} | {mse[column.name]:.5f} | "
            f"{100 * (mse[column.name] / base - 1):+.1f}% |"
        )
    rows += [f"| {k} | unavailable: {v} | | | |" for k, v in unavailable.items()]
    for row in rows[-len(columns) :]:
        log(row)
    return rows


def inception(args, device, log) -> list[str]:
    """The Inception section's rows (markdown)."""
    from gaespec.metrics.fidelity import inception_input
    from gaespec.metrics.inception import fid_helper_network_path, inception_from_fid_helper
    from gaespec.metrics.inception_layout import fold_batch_norms

    plain = inception_from_fid_helper(fid_helper_network_path(), str(device)).network.eval()
    folded = fold_batch_norms(plain)
    folded_cl = fold_batch_norms(plain).to(memory_format=torch.channels_last)
    pixels = inception_input(digits(args.inception_images)).to(device)
    networks = {"plain": plain, "folded": folded, "folded + channels-last": folded_cl}
    features, rates = {}, {k: [] for k in networks}
    with torch.inference_mode():
        for network in networks.values():
            network(pixels[:2])
        for _ in range(args.rounds or 3):
            for key, network in networks.items():
                machine._sync(device)
                started = time.perf_counter()
                features[key] = torch.cat([network(b)[0] for b in pixels.split(50)])
                machine._sync(device)
                rates[key].append(len(pixels) / (time.perf_counter() - started))
            log("    " + "  ".join(f"{k} {v[-1]:.2f}" for k, v in rates.items()))
    rows = [
        f"{len(pixels)} digits, batches of 50, torch.inference_mode",
        "",
        "| layout | img/s (median) | max abs feature difference vs plain |",
        "|---|---|---|",
    ]
    for key in networks:
        diff = (features[key] - features["plain"]).abs().max().item()
        rows.append(f"| {key} | {statistics.median(rates[key]):.2f} | {diff:.2e} |")
    return rows


def cli(args, device, log) -> list[str]:
    """The command-line section's rows (markdown)."""
    gaespec = machine.gaespec_command()
    specs = sorted(str(p) for p in (ROOT / "specs" / "models").glob("*.toml"))
    commands = {
        f"gaespec validate specs/models/*.toml ({len(specs)} specs)": [
            *gaespec,
            "validate",
            *specs,
        ],
        "gaespec list": [*gaespec, "list"],
        "gaespec --help": [*gaespec, "--help"],
    }
    rows = ["| command | seconds (median of 5) |", "|---|---|"]
    for shown, command in commands.items():
        rows.append(f"| `{shown}` | {machine.command_seconds(command, cwd=ROOT):.3f} |")
        log(rows[-1])
    return rows


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line's options; an unknown section, model or net is a usage error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help="comma-separated: " + ", ".join(SECTIONS)
    )
    parser.add_argument(
        "--models", default=",".join(cols.hand_written.NAMES), help="specs of the tax table"
    )
    parser.add_argument(
        "--nets", default=",".join(cols.hand_written.NETS), help="nets of the tax table"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help=f"interleaved timed rounds (default: as many as fit in --seconds, "
        f"{MIN_ROUNDS} to {MAX_ROUNDS})",
    )
    parser.add_argument(
        "--seconds", type=float, default=30.0, help="time for the rounds of one model (about)"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="training batch")
    parser.add_argument(
        "--fast-epochs", type=int, default=2, help="epochs before each fast path's test MSE"
    )
    parser.add_argument(
        "--inception-images", type=int, default=100, help="images the Inception speed is timed on"
    )
    parser.add_argument(
        "--no-memory", dest="memory", action="store_false", help="skip the peak-memory probes"
    )
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu or cuda"
    )
    parser.add_argument("--out", type=Path, help="also write the tables to this markdown file")
    parser.add_argument("--memory-probe", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_probe:
        return args
    known = {
        "sections": SECTIONS,
        "models": cols.hand_written.NAMES,
        "nets": cols.hand_written.NETS,
    }
    for option, choices in known.items():
        values = getattr(args, option).split(",")
        wrong = [v for v in values if v not in choices]
        if wrong:
            parser.error(
                f"--{option}: unknown {', '.join(wrong)} (choose from {', '.join(choices)})"
            )
        setattr(args, option, values)
    return args


def main() -> None:
    args = parse()
    if args.memory_probe:
        name, net, column, batch = args.memory_probe
        memory_probe(name, net, column, int(batch))
        return
    device = torch.device(args.device)

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    started = time.perf_counter()
    report = [
        f"# gaespec performance ({time.strftime('%Y-%m-%d')})",
        "",
        machine.describe(device),
        "",
    ]
    sections = {"tax": tax, "axis": axis, "fast": fast, "inception": inception, "cli": cli}
    for key in args.sections:
        log(f"== {key}")
        report += [f"## {key}", "", *sections[key](args, device, log), ""]
    report.append(f"(the benchmark took {time.perf_counter() - started:.0f} s)")
    text = "\n".join(report) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
