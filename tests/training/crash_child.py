"""`gaespec train` with a crash point, for tests/training/test_crash.py.

Run as `python crash_child.py ARGS...` with ARGS those of `gaespec train`. The environment variable
GAESPEC_CRASH_AT names where this process stops to be killed:

    step:N                after its N-th optimiser step
    write:FILE:N:partial  while writing FILE (a name in the run folder) for the N-th time: the
                          temporary file holds half of its bytes
    write:FILE:N:rename   after writing FILE for the N-th time, before the rename that makes it
                          the real one
    write:FILE:N:renamed  right after that rename, before anything else is written

There it prints CRASHPOINT and sleeps; the test kills it with SIGKILL. Without the variable it
prints READY when training starts, so that a test can kill it at a random moment after that.
"""

from __future__ import annotations

import os
import sys
import time

from gaespec.cli import app
from gaespec.training.trainer import Trainer


def _stop_here() -> None:
    # one write of both lines: under torchrun the two processes share the pipe, and print's
    # separate writes of a text and its newline would interleave with the other process's
    sys.stdout.flush()
    os.write(sys.stdout.fileno(), f"PID {os.getpid()}\nCRASHPOINT\n".encode())
    time.sleep(600)
    raise SystemExit("crash_child: nobody killed this process")


def _install(plan: str) -> None:
    kind, *where = plan.split(":")
    count = {"n": 0}
    if kind == "step":
        n = int(where[0])
        train_step = Trainer.train_step

        def counted_step(self, x, share=None):
            out = train_step(self, x, share)
            count["n"] += 1
            if count["n"] == n:
                _stop_here()
            return out

        Trainer.train_step = counted_step
        return
    name, n, phase = where[0], int(where[1]), where[2]
    replace = os.replace

    def counted_replace(src, dst, *args, **kwargs):
        if os.path.basename(dst) != name:
            return replace(src, dst, *args, **kwargs)
        count["n"] += 1
        if count["n"] == n and phase == "partial":
            os.truncate(src, os.path.getsize(src) // 2)
            _stop_here()
        if count["n"] == n and phase == "rename":
            _stop_here()
        replace(src, dst, *args, **kwargs)
        if count["n"] == n and phase == "renamed":
            _stop_here()

    os.replace = counted_replace


def main() -> None:
    plan = os.environ.get("GAESPEC_CRASH_AT")
    if plan:
        _install(plan)
    fit = Trainer.fit

    def announced_fit(self, epochs):
        print("READY", flush=True)
        return fit(self, epochs)

    Trainer.fit = announced_fit
    app(["train", *sys.argv[1:]], prog_name="gaespec")


if __name__ == "__main__":
    main()
