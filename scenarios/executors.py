"""Executors: run a pure function over a list of argument tuples, results in task order.

Both backends yield results in the order the tasks were given, whatever order they finish
in, so merging them is deterministic.  Use them as context managers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from tqdm import tqdm


class SerialExecutor:
    """Runs every task in this process, one after another."""

    name = "serial"

    def __enter__(self) -> "SerialExecutor":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def map(self, fn: Callable, tasks: Iterable[tuple], desc: str = "",
            progress: bool = True) -> Iterator:
        tasks = list(tasks)
        with tqdm(total=len(tasks), desc=desc, disable=not progress, unit="task") as bar:
            for args in tasks:
                yield fn(*args)
                bar.update()


class RayExecutor:
    """Ray core tasks; a local instance on 127.0.0.1 unless an address is given.

    ``address`` (or the RAY_ADDRESS environment variable) joins an existing cluster; then
    ``workers`` is ignored and the cluster's own resources decide the parallelism.
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None,
                 max_in_flight: int | None = None) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.workers = workers
        self.max_in_flight = max_in_flight
        self._started = False

    def __enter__(self) -> "RayExecutor":
        import ray

        if not ray.is_initialized():
            if self.address is None:
                # Keeps the embedded instance on loopback (DESIGN.md §4).
                os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
                ray.init(num_cpus=self.workers or os.cpu_count(), include_dashboard=False,
                         log_to_driver=False, configure_logging=False)
            else:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
            self._started = True
        return self

    def __exit__(self, *exc) -> None:
        import ray

        if self._started:
            ray.shutdown()

    def map(self, fn: Callable, tasks: Iterable[tuple], desc: str = "",
            progress: bool = True) -> Iterator:
        import ray

        remote = ray.remote(fn)
        tasks = list(tasks)
        limit = self.max_in_flight or 4 * int(ray.cluster_resources().get("CPU", 1))
        pending: dict = {}          # object ref -> task index
        done: dict = {}             # task index -> result, until its turn comes
        submitted = emitted = 0
        with tqdm(total=len(tasks), desc=desc, disable=not progress, unit="task") as bar:
            while emitted < len(tasks):
                while submitted < len(tasks) and len(pending) + len(done) < limit:
                    pending[remote.remote(*tasks[submitted])] = submitted
                    submitted += 1
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    done[pending.pop(ref)] = ray.get(ref)
                    bar.update()
                while emitted in done:
                    yield done.pop(emitted)
                    emitted += 1


def make_executor(backend: str, address: str | None = None, workers: int | None = None):
    if backend == "serial":
        return SerialExecutor()
    if backend == "ray":
        return RayExecutor(address=address, workers=workers)
    raise ValueError(f"unknown backend {backend!r}; allowed: serial, ray")
