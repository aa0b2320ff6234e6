"""Benchmark sweeps on Ray: speed-up of 2 workers over serial, per-task overhead, and the
chunk size below which that overhead exceeds 5% of a task.

    python scripts/benchmark_sweep.py            # about two minutes on 2 cores
    python scripts/benchmark_sweep.py --quick

The sweep: 2 cells × R replicates of a 10-agent participation simulation (M3+), so a few
hundred replicates in all.  Threshold tables are computed once before the timed part (they
are the same for every replicate); Ray's start-up is reported separately.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

SCENARIO = """
[scenario]
name = "bench_sweep"
kind = "simulation"
seed = 1
[setting]
type = "trade"
holder_prior = {{ family = "uniform", low = 0.0, high = 1.0 }}
buyer_prior = {{ family = "uniform", low = 0.0, high = 1.0 }}
[simulation]
agents = 10
lambda = {{ distribution = "lognormal", median = 1.955, sigma = 0.3 }}
center_lambda = 1.0
mechanisms = ["M3+"]
rounds = {rounds}
replicates = 1
threshold_profiles = 20000
[run]
backend = "serial"
[sweep]
replicates = {replicates}
chunk_replicates = {chunk}
[sweep.grid]
"simulation.center_lambda" = [1.0, 2.25]
"""


def noop(i):
    return i


def timed_sweep(scenario, executor, tables) -> float:
    """Wall seconds of the sweep's tasks alone (threshold tables given, fresh folder)."""
    from scenarios import sweep_run

    out = Path(tempfile.mkdtemp())
    try:
        start = time.perf_counter()
        sweep_run.run_sweep(scenario, out / "s", executor, progress=False, tables=tables)
        return time.perf_counter() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke test")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from scenarios import simulation, spec
    from scenarios.executors import RayExecutor, SerialExecutor

    replicates, rounds, chunk = (40, 20, 5) if args.quick else (150, 300, 10)
    path = Path(tempfile.mkdtemp()) / "bench.toml"
    path.write_text(SCENARIO.format(replicates=replicates, rounds=rounds, chunk=chunk))
    scenario = spec.load(path)
    with SerialExecutor() as ex:
        cell = scenario.cells[0][1]
        table = simulation.tables_for(cell.simulation, cell.holder_prior, cell.buyer_prior,
                                      cell.seed, ex)
    tables = {c: table for c in range(len(scenario.cells))}
    serial = [timed_sweep(scenario, SerialExecutor(), tables) for _ in range(args.repeats)]
    start = time.perf_counter()
    ray_ex = RayExecutor(workers=2).__enter__()
    startup = time.perf_counter() - start
    try:
        list(ray_ex.map(noop, [(i,) for i in range(200)], progress=False))     # warm workers
        ray = [timed_sweep(scenario, ray_ex, tables) for _ in range(args.repeats)]
        overhead = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            list(ray_ex.map(noop, [(i,) for i in range(2000)], progress=False))
            overhead.append((time.perf_counter() - start) / 2000)
    finally:
        ray_ex.__exit__(None, None, None)
    total = 2 * replicates
    per_replicate = statistics.median(serial) / total
    task_overhead = statistics.median(overhead)
    # overhead / (overhead + c · per_replicate) > 5%  ⇔  c < 19 · overhead / per_replicate
    threshold = 19 * task_overhead / per_replicate
    print(json.dumps({
        "replicates": total, "rounds": rounds, "agents": 10, "chunk_replicates": chunk,
        "serial_wall_s": [round(x, 3) for x in serial],
        "ray2_wall_s": [round(x, 3) for x in ray],
        "speedup_2_workers": statistics.median(serial) / statistics.median(ray),
        "ray_startup_s": round(startup, 2),
        "seconds_per_replicate_serial": per_replicate,
        "ray_overhead_per_task_ms": task_overhead * 1e3,
        "chunk_replicates_below_which_overhead_exceeds_5pct": threshold,
    }, indent=2))


if __name__ == "__main__":
    main()
