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
        if self.address is None:
            ray = _ray_on_loopback()
        else:
            import ray
        if not ray.is_initialized():
            if self.address is None:
                ray.init(num_cpus=self.workers or os.cpu_count(), include_dashboard=False,
                         log_to_driver=False, configure_logging=False)
            else:
                ray.init(address=self.address, log_to_driver=False)
            self._started = True
        return self

    def __exit__(self, *exc) -> None:
        import ray

        if self._started:
            ray.shutdown()
            self._started = False

    def map(self, fn: Callable, tasks: Iterable[tuple], desc: str = "",
            progress: bool = True) -> Iterator:
        import ray

        remote = ray.remote(fn)
        tasks = list(tasks)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        limit = self.max_in_flight or 2 * cpus + 2      # keeps every worker fed
        buffer = 16 * cpus                               # finished early, waiting for their turn
        pending: dict = {}          # object ref -> task index
        done: dict = {}             # task index -> result, until its turn comes
        submitted = emitted = 0
        with tqdm(total=len(tasks), desc=desc, disable=not progress, unit="task") as bar:
            while emitted < len(tasks):
                while (submitted < len(tasks) and len(pending) < limit
                       and len(done) < buffer):
                    pending[remote.remote(*tasks[submitted])] = submitted
                    submitted += 1
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    done[pending.pop(ref)] = ray.get(ref)
                    bar.update()
                while emitted in done:
                    yield done.pop(emitted)
                    emitted += 1


def _ray_on_loopback():
    """Import Ray so that a local instance binds every socket to 127.0.0.1 (DESIGN.md §4).

    Ray reads RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER once, when ray_constants is imported; the
    worker processes inherit the variable.  If Ray was imported earlier without it, the
    module constant is set too, since that is where Ray looks it up.
    """
    os.environ[LOOPBACK_ENV] = "0"
    import ray
    from ray._private import ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False
    return ray


LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def make_executor(backend: str, address: str | None = None, workers: int | None = None):
    if backend == "serial":
        return SerialExecutor()
    if backend == "ray":
        return RayExecutor(address=address, workers=workers)
    raise ValueError(f"unknown backend {backend!r}; allowed: serial, ray")
