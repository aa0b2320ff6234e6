"""Benchmark the paper scenario: wall time serial vs Ray, peak memory, and the speed-up over a
plain per-profile Python loop.

    python scripts/benchmark_study.py                 # the full benchmark (about 6 minutes)
    python scripts/benchmark_study.py --quick         # small sizes, to check the script runs

Each configuration runs in a fresh subprocess so that its peak RSS (ru_maxrss of that child)
is its own.  Ray's workers are separate processes; their memory is not in the driver's RSS,
so memory is compared on the serial backend, where all the work is in one process.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "paper_trade.toml"


def run_cli(profiles: int, backend: str, workers: int | None, out: Path) -> dict:
    """Time one `riskpart run` in a child process; returns wall seconds and the child's peak RSS."""
    code = ("import sys, resource; from scenarios.cli import main; rc = main(sys.argv[1:]); "
            "print('RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(rc)")
    args = [sys.executable, "-c", code, "run", str(SCENARIO), "--out", str(out), "--quiet",
            "--profiles", str(profiles), "--backend", backend]
    if workers:
        args += ["--workers", str(workers)]
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    rss = [int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("RSS_KB")]
    return {"wall_s": wall, "driver_peak_rss_mb": rss[0] / 1024}


def loop_first_pass(theta, rho=0.35):
    """The same numbers as study.chunk_first_pass, one profile and one agent at a time (uniform [0,1])."""
    n = len(theta[0])
    m = n - 1
    tol = 1e-9
    sums = {}

    def add(key, x):
        s = sums.setdefault(key, [0.0, 0.0, 0.0, 0.0, 0.0])
        s[0] += 1
        s[1] += x < -tol
        s[2] += x
        s[3] += max(x, 0.0)
        s[4] += max(-x, 0.0)

    c_m2 = n / (n + 1)
    c_m3 = [1 - rho] + [(n - 2 + 2 * rho) / (n - 1)] * m
    for t in theta:
        h, buyers = t[0], list(t[1:])
        order = sorted(range(m), key=lambda j: -buyers[j])
        top, top1 = order[0], buyers[order[0]]
        top2 = buyers[order[1]] if m > 1 else -math.inf
        v = max(0.0, top1 - h)
        trade = top1 > h
        values = [0.0] * n
        if trade:
            values[0], values[top + 1] = -h, top1
        e = [min(top1, 1.0) ** 2 / 2]
        pivot = [max(top1, 0.0)]
        for j in range(m):
            c = max(h, top2 if j == top else top1)
            e.append(c + (1 - min(c, 1.0)) ** 2 / 2 - h)
            pivot.append(max(0.0, max(top2 if j == top else top1, 0.0) - h))
        xi = [m / (m + 1) * (1 - h ** (m + 1))]
        for b in buyers:
            xi.append(0.5 - b ** (m + 1) - (1 - b ** (m + 1)) / (m + 1))
        total_xi = sum(xi)
        for name, u, rev in (
            ("VCG", [v - pivot[i] for i in range(n)], None),
            ("AGV", [values[i] + xi[i] - (total_xi - xi[i]) / m for i in range(n)], 0.0),
            ("M1", [v - e[i] for i in range(n)], None),
            ("M2", [v - c_m2 * e[i] for i in range(n)], None),
            ("M3", [v - c_m3[i] * e[i] for i in range(n)], None),
        ):
            rev = v - sum(u) if rev is None else rev
            add((name, "holder"), u[0])
            for x in u[1:]:
                add((name, "buyer"), x)
            add((name, "center"), rev)
    return sums


def library_per_profile(task, theta):
    """The straightforward loop: the library's own first pass, one profile at a time."""
    from scenarios.study import batch_first_pass, merge_first

    return merge_first(batch_first_pass(task, task.setting.batch(row[None, :])) for row in theta)


def loop_ratio(n: int, profiles: int, repeats: int) -> dict:
    """Per-profile time of two plain loops against the vectorised first pass (medians).

    Both the vectorised pass and the library loop compute VCG, AGV, M1, M2, M3(0.35) and M3*'s
    breakpoint histograms; the hand-inlined loop skips the histograms (it is a lower bound on
    what pure Python costs).
    """
    import numpy as np

    from center.mechanisms import M3
    from center.trade import TradeSetting
    from scenarios.study import StudyTask, chunk_first_pass

    setting = TradeSetting(n)
    task = StudyTask(setting, ("VCG", "AGV", "M1", "M2", M3(0.35), "M3*"), 16384, 16384, 0)
    array = setting.sample(np.random.default_rng(0), profiles)
    theta = array.tolist()
    loop, naive, vec = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        loop_first_pass(theta)
        loop.append((time.perf_counter() - start) / profiles)
        start = time.perf_counter()
        library_per_profile(task, array[: profiles // 10])
        naive.append((time.perf_counter() - start) / (profiles // 10))
        start = time.perf_counter()
        chunk_first_pass(task, 0)
        vec.append((time.perf_counter() - start) / 16384)
    v = statistics.median(vec)
    return {"n": n,
            "vectorised_us_per_profile": v * 1e6,
            "library_per_profile_loop_us": statistics.median(naive) * 1e6,
            "speedup_over_library_loop": statistics.median(naive) / v,
            "hand_inlined_python_loop_us": statistics.median(loop) * 1e6,
            "speedup_over_hand_inlined_loop": statistics.median(loop) / v}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke test")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "results" / "benchmark"))
    args = parser.parse_args()
    out = Path(args.out)
    small, large = (20_000, 200_000) if args.quick else (1_000_000, 10_000_000)
    report = {"profiles_per_n": small, "runs": {}}
    for backend, workers in (("serial", None), ("ray", 2)):
        walls = [run_cli(small, backend, workers, out / f"{backend}")
                 for _ in range(args.repeats)]
        report["runs"][f"{backend}"] = {
            "median_wall_s": statistics.median(w["wall_s"] for w in walls),
            "all_wall_s": [round(w["wall_s"], 2) for w in walls],
            "driver_peak_rss_mb": max(w["driver_peak_rss_mb"] for w in walls)}
    serial, ray = report["runs"]["serial"], report["runs"]["ray"]
    report["ray_speedup_over_serial"] = serial["median_wall_s"] / ray["median_wall_s"]
    big = run_cli(large, "serial", None, out / "serial_large")
    report["memory"] = {f"peak_rss_mb_at_{small}": serial["driver_peak_rss_mb"],
                        f"peak_rss_mb_at_{large}": big["driver_peak_rss_mb"],
                        "ratio": big["driver_peak_rss_mb"] / serial["driver_peak_rss_mb"],
                        f"wall_s_at_{large}": big["wall_s"]}
    report["per_profile_loop"] = [loop_ratio(n, 300 if args.quick else 2000, args.repeats)
                                  for n in (5, 20)]
    report["max_rss_benchmark_process_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
