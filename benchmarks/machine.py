"""What the benchmark measures besides speed: the machine, its matmul ceiling, FLOPs per step,
peak memory, and how long commands take to answer."""

from __future__ import annotations

import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from gaespec.training.run import _cpu_name


def describe(device: torch.device) -> str:
    """One line: the CPU (or GPU), threads, torch and its CPU capability."""
    if device.type == "cuda":
        where = torch.cuda.get_device_name(device)
    else:
        where = f"{_cpu_name()}, {torch.get_num_threads()} threads"
    return (
        f"{where}; torch {torch.__version__} ({torch.backends.cpu.get_cpu_capability()}), "
        f"Python {platform.python_version()}"
    )


def matmul_ceiling(
    device: torch.device, dtype: torch.dtype, n: int = 2048, repeats: int = 5
) -> float:
    """The best FLOP/s of an n×n by n×n matmul on `device` in `dtype` (2n³ FLOPs each)."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        started = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - started)
    return 2 * n**3 / best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def flops_per_step(step, x: torch.Tensor) -> int:
    """The FLOPs (forward and backward; matmuls and convolutions, as torch counts them) of one
    training step on batch x."""
    with FlopCounterMode(display=False) as counter:
        step(x)
    return counter.get_total_flops()


def _status_mb(field: str) -> float | None:
    """A memory figure of /proc/self/status (VmRSS, VmHWM) in MB; None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def reset_peak_rss() -> float:
    """Start counting this process's peak resident memory from now (Linux: VmHWM reset through
    /proc/self/clear_refs), so that loading data before does not hide what comes after; the
    resident memory now, in MB."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    now = _status_mb("VmRSS")
    return now if now is not None else peak_rss_mb()


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started or since reset_peak_rss, in MB."""
    peak = _status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def command_seconds(args: list[str], repeats: int = 5, cwd: Path | None = None) -> float:
    """The median wall time of running a command `repeats` times (it must succeed)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, cwd=cwd)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def gaespec_command() -> list[str]:
    """How to run the `gaespec` command of this interpreter's environment."""
    script = Path(sys.executable).parent / "gaespec"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gaespec"]
