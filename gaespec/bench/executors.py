"""Where the bench's runs execute: in this process, one at a time (the default), or as tasks of an
existing distributed engine. Each task trains and evaluates one run folder and returns its
numbers as a JSON-ready dict; the folder makes it resumable wherever it ran.

`local` runs them in order in this process. `ray` hands each to Ray (`ray.remote` tasks; the
cluster at `address`, or a local Ray instance when none is given): no scheduler of our own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from gaespec.errors import BenchError
from gaespec.registry import Registry

Task = Callable[[dict[str, Any]], dict[str, Any]]
EXECUTORS: Registry[Callable[..., Iterator[dict[str, Any]]]] = Registry("executor", BenchError)


@EXECUTORS.register("local")
def local(task: Task, jobs: Sequence[dict[str, Any]], **_) -> Iterator[dict[str, Any]]:
    """Each job in this process, in order."""
    for job in jobs:
        yield task(job)


@EXECUTORS.register("ray")
def ray_tasks(
    task: Task,
    jobs: Sequence[dict[str, Any]],
    *,
    address: str | None = None,
    cpus_per_run: float = 1,
) -> Iterator[dict[str, Any]]:
    """Each job a Ray task on the cluster at `address` (a local instance when None); the results
    come back in the jobs' order. Ray's own settings (RAY_ADDRESS, runtime environments) apply."""
    try:
        import ray
    except ImportError:
        raise BenchError(
            "the ray executor needs Ray, which is not installed",
            fix="pip install 'gaespec[ray]'",
        ) from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=cpus_per_run)(task)
        pending = [remote.remote(job) for job in jobs]
        for ref in pending:
            yield ray.get(ref)
    finally:
        if started:
            ray.shutdown()


def execute(
    name: str, task: Task, jobs: Sequence[dict[str, Any]], **options
) -> Iterator[dict[str, Any]]:
    """The results of `task` on each job, by the executor `name`, in the jobs' order."""
    return EXECUTORS.get(name, key="--executor")(task, jobs, **options)
