"""Data-parallel training under torchrun (gloo on this CPU): two processes equal one process on
the same global batches, only rank 0 writes, a killed two-process run resumes, and what cannot
be split is refused."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import gaespec
from gaespec.errors import TrainingError
from gaespec.training.distributed import Share, refuse_unsplittable, share, split

ROOT = Path(__file__).parents[2]
CHILD = Path(__file__).with_name("crash_child.py")
EPOCHS = 2
STEPS_PER_EPOCH = 55  # 3,500 training digits in batches of 64
# the VAE on the built-in digits, with small MLP nets so that the test takes seconds
ARGS = [
    "specs/models/vae.toml",
    "--data",
    "mnist5k",
    "--epochs",
    str(EPOCHS),
    "--quiet",
    *("--set", "encoder.arch=mlp", "--set", "decoder.arch=mlp"),
    *("--set", "encoder.hidden=[64]", "--set", "decoder.hidden=[64]"),
    *("--set", "train.batch_size=64"),
]


def test_each_process_takes_a_contiguous_share_of_every_batch():
    assert [share(10, r, 3) for r in range(3)] == [
        Share(0, 4, 10),
        Share(4, 3, 10),
        Share(7, 3, 10),
    ]
    order, sizes = torch.randperm(17), [8, 9]
    parts = [split(order, sizes, r, 2) for r in range(2)]
    assert [p[1] for p in parts] == [[4, 5], [4, 4]]  # process 0 takes the odd one
    # batch by batch, process 0's rows then process 1's are the batch's rows in order
    rejoined = torch.cat([parts[0][0][:4], parts[1][0][:4], parts[0][0][4:], parts[1][0][4:]])
    assert torch.equal(rejoined, order)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "wae_imq",
            "terms.mmd.kind: 'mmd' cannot train data-parallel: its MMD estimate is a U-statistic "
            "over the whole batch's codes; fix: train it as one process, without torchrun",
        ),
        (
            "vqvae",
            "modules.codebook.restart_after: 'vq_codebook' with restarts cannot train "
            "data-parallel: each process would restart idle codewords at codes of its own; fix: "
            "set modules.codebook.restart_after = 0, or train as one process, without torchrun",
        ),
        (
            "vqvae_ema",
            "modules.codebook.kind: 'vq_codebook_ema' cannot train data-parallel: each process "
            "would move its codebook's moving averages on its own; fix: train it as one process, "
            "without torchrun",
        ),
    ],
)
def test_what_couples_a_batch_or_moves_apart_is_refused_naming_the_key(name, message):
    spec = gaespec.load_spec(name)
    with pytest.raises(TrainingError) as caught:
        refuse_unsplittable(spec)
    assert str(caught.value).endswith(message)
    assert str(caught.value).startswith(str(ROOT / "specs" / "models" / f"{name}.toml"))
    refuse_unsplittable(gaespec.load_spec("vqvae", ["modules.codebook.restart_after=0"]))


def _environment(crash_at: str | None = None) -> dict:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    for name in ("GAESPEC_CRASH_AT", "RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(name, None)
    if crash_at is not None:
        env["GAESPEC_CRASH_AT"] = crash_at
    return env


def _torchrun(out: Path, cwd: Path, *extra: str, crash_at: str | None = None) -> subprocess.Popen:
    """`torchrun --standalone --nproc-per-node 2 crash_child.py ARGS` (gaespec train), in `cwd`."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            str(CHILD),
            *(str(ROOT / a) if a.startswith("specs/") else a for a in ARGS),
            "--out",
            str(out),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
        env=_environment(crash_at),
    )


def _finish(proc: subprocess.Popen) -> str:
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output
    return output


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """One process; two processes under torchrun; two processes killed in epoch 2, resumed."""
    root = tmp_path_factory.mktemp("distributed")
    single = subprocess.run(
        [sys.executable, "-m", "gaespec", "train", *ARGS, "--out", str(root / "single")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_environment(),
        timeout=300,
    )
    assert single.returncode == 0, single.stdout + single.stderr
    (root / "double-cwd").mkdir()
    output = _finish(_torchrun(root / "double", root / "double-cwd"))
    (root / "double.log").write_text(output, encoding="utf-8")

    killed = _torchrun(
        root / "killed", root, crash_at=f"step:{STEPS_PER_EPOCH + 20}"
    )  # both processes stop there, in epoch 2, after epoch 1 was saved
    workers = []  # torchrun starts each in a session of its own: each is killed itself
    for line in killed.stdout:  # each process's "PID N", wherever it lies in the line
        workers += [int(pid) for pid in re.findall(r"PID (\d+)", line)]
        if len(workers) == 2:
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
            break
    killed.communicate(timeout=60)  # torchrun sees its workers die and exits
    assert len(workers) == 2, "the two processes never reached their crash point"
    (root / "resumed.log").write_text(
        _finish(_torchrun(root / "killed", root, "--resume")), encoding="utf-8"
    )
    return {"single": root / "single", "double": root / "double", "killed": root / "killed"}


def test_two_processes_equal_one_on_the_same_global_batches(runs):
    one = load_file(runs["single"] / "last.safetensors")
    two = load_file(runs["double"] / "last.safetensors")
    assert one.keys() == two.keys()
    for key in one:  # weights, Adam's moments, the random state, after two epochs
        torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=1e-6, msg=key)
    metrics = [(runs[n] / "metrics.jsonl").read_text().splitlines() for n in ("single", "double")]
    assert len(metrics[0]) == len(metrics[1]) == EPOCHS


def test_only_rank_0_writes_and_reports(runs):
    cwd = runs["double"].parent / "double-cwd"
    assert list(cwd.iterdir()) == []  # nothing written where the processes ran
    names = {p.name for p in runs["double"].iterdir()}
    assert names == {p.name for p in runs["single"].iterdir()}
    log = (runs["double"].parent / "double.log").read_text().splitlines()
    assert sum(line.startswith("epoch 2/2") for line in log) == 1
    assert sum(line.startswith("test MSE") for line in log) == 1


def test_a_killed_two_process_run_resumes_to_the_same_state(runs):
    log = (runs["killed"].parent / "resumed.log").read_text()
    assert log.count("resuming") == 1 and "after epoch 1 (step 55)" in log
    resumed = load_file(runs["killed"] / "last.safetensors")
    straight = load_file(runs["double"] / "last.safetensors")
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=0, msg=key)
