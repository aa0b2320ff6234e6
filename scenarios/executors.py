"""Executors: run a pure function over a list of argument tuples, results in task order.

Both backends yield results in the order the tasks were given, whatever order they finish
in, so merging them is deterministic.  Use them as context managers.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
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
            progress: bool = True, ordered: bool = True) -> Iterator:
        """Results in task order; with ``ordered=False``, (index, result) pairs."""
        tasks = list(tasks)
        with tqdm(total=len(tasks), desc=desc, disable=not progress, unit="task") as bar:
            for index, args in enumerate(tasks):
                result = fn(*args)
                bar.update()
                yield result if ordered else (index, result)


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
        # Ray announces at WARNING level that it keeps its default token authentication; that
        # is expected here, so the notice would only be noise on every run.
        logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
        if self.address is None:
            ray = _ray_on_loopback()
        else:
            check_reachable(self.address)
            probe_cluster(self.address)
            import ray
        if not ray.is_initialized():
            if self.address is None:
                # address="local": always a fresh instance, never a stray `ray start` one.
                ray.init(address="local", num_cpus=self.workers or os.cpu_count(),
                         include_dashboard=False, log_to_driver=False,
                         logging_level=logging.WARNING)
            else:
                try:
                    ray.init(address=self.address, log_to_driver=False,
                             logging_level=logging.WARNING)
                except (ConnectionError, ValueError) as err:
                    raise ClusterUnreachable(f"cannot join the Ray cluster at {self.address}: "
                                             f"{str(err).splitlines()[0]}") from None
            self._started = True
        return self

    def __exit__(self, *exc) -> None:
        import ray

        if self._started:
            ray.shutdown()
            self._started = False

    def map(self, fn: Callable, tasks: Iterable[tuple], desc: str = "",
            progress: bool = True, ordered: bool = True) -> Iterator:
        """Results in task order, however they finish; with ``ordered=False``, (index, result)
        pairs as soon as each finishes.  A task whose worker dies is retried by Ray."""
        import ray

        remote = ray.remote(max_retries=RETRIES)(fn)
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
                    index = pending.pop(ref)
                    bar.update()
                    if not ordered:
                        emitted += 1
                        yield index, ray.get(ref)
                        continue
                    done[index] = ray.get(ref)
                while ordered and emitted in done:
                    yield done.pop(emitted)
                    emitted += 1


def _ray_on_loopback():
    """Import Ray so that a local instance binds every socket to 127.0.0.1.

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
RETRIES = 3


class ClusterUnreachable(ConnectionError):
    """The Ray address given does not answer."""


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast, with a clear message, when nothing listens at a host:port address."""
    if address == "auto":
        return
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterUnreachable(f"invalid Ray address {address!r}: expected host:port "
                                 "(port 1-65535), ray://host:port or auto")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as err:
        raise ClusterUnreachable(f"cannot reach the Ray cluster at {address} ({err})") from None


CONNECT_TIMEOUT_ENV = "RISKPART_RAY_CONNECT_TIMEOUT"


def probe_cluster(address: str) -> None:
    """Join the cluster once from a child process, with a deadline.

    ``ray.init`` against a port where something other than Ray listens retries for minutes;
    a child that can be abandoned turns that into a clear error.
    """
    timeout = float(os.environ.get(CONNECT_TIMEOUT_ENV, "60"))
    code = "import ray, sys; ray.init(address=sys.argv[1], log_to_driver=False); ray.shutdown()"
    try:
        proc = subprocess.run([sys.executable, "-c", code, address], capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ClusterUnreachable(f"no Ray cluster answered at {address} within {timeout:g} s "
                                 f"(set {CONNECT_TIMEOUT_ENV} to wait longer)") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise ClusterUnreachable(f"cannot join the Ray cluster at {address}: {last}")


def make_executor(backend: str, address: str | None = None, workers: int | None = None):
    if backend == "serial":
        return SerialExecutor()
    if backend == "ray":
        return RayExecutor(address=address, workers=workers)
    raise ValueError(f"unknown backend {backend!r}; allowed: serial, ray")
