"""Benchmark the general finite-outcome path: agent-profiles per second on one core.

    python scripts/benchmark_general.py            # 10 agents × 8 outcomes, medians of 5 runs
    python scripts/benchmark_general.py --quick

Three settings side by side in one run: affine values in a uniform scalar type (E_i exact,
envelope of 8 lines), value tables over 4 discrete types (E_i by enumeration), and the trade
fast path (TradeSetting, n = 10).  Two timings per setting and chunk of 16384 profiles:

- ``expected_surplus``: building the batch (values, efficient outcome) and E_i for every agent;
- ``first_pass``: the study's whole first pass (VCG, AGV, M1, M2, M3(0.35) and M3*'s breakpoint
  histograms with per-role sums), AGV tables built beforehand.

One core: BLAS and OpenMP threads are pinned to 1 before numpy is imported.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from center import finite  # noqa: E402
from center.mechanisms import M3  # noqa: E402
from center.priors import Uniform  # noqa: E402
from center.trade import TradeSetting  # noqa: E402
from scenarios.study import StudyTask, batch_first_pass  # noqa: E402

AGENTS, OUTCOMES, TYPES, CHUNK = 10, 8, 4, 16384
MECHANISMS = ("VCG", "AGV", "M1", "M2", M3(0.35), "M3*")


def affine_setting() -> finite.FiniteSetting:
    rng = np.random.default_rng(1)
    agents = tuple(finite.AffineValues(Uniform(0, 1), tuple(rng.uniform(-0.5, 0.5, OUTCOMES)),
                                       tuple(rng.uniform(-1, 1, OUTCOMES))) for _ in range(AGENTS))
    return finite.FiniteSetting(agents, tuple(f"o{k}" for k in range(OUTCOMES)))


def table_setting() -> finite.FiniteSetting:
    rng = np.random.default_rng(2)
    agents = tuple(finite.TableValues(tuple(map(tuple, rng.uniform(-1, 1, (TYPES, OUTCOMES)))),
                                      tuple(np.full(TYPES, 1.0 / TYPES))) for _ in range(AGENTS))
    return finite.FiniteSetting(agents, tuple(f"o{k}" for k in range(OUTCOMES)))


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(setting, repeats: int, chunk: int) -> dict:
    task = StudyTask(setting, MECHANISMS, chunk, chunk, 0)
    theta = setting.sample(np.random.default_rng(0), chunk)
    batch_first_pass(task, setting.batch(theta))          # warm up: AGV tables, caches
    e = timed(lambda: setting.batch(theta).expected_surplus, repeats)
    first = timed(lambda: batch_first_pass(task, setting.batch(theta)), repeats)
    per = chunk * setting.n
    return {"expected_surplus_agent_profiles_per_s": per / e,
            "first_pass_agent_profiles_per_s": per / first,
            "expected_surplus_s_per_chunk": e, "first_pass_s_per_chunk": first}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke test")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    repeats, chunk = (2, 2048) if args.quick else (args.repeats, CHUNK)
    report = {"agents": AGENTS, "outcomes": OUTCOMES, "profiles_per_chunk": chunk,
              "repeats": repeats, "threads": 1}
    settings = {"affine (uniform types, exact envelope)": affine_setting(),
                f"table ({TYPES} discrete types, enumeration)": table_setting(),
                "trade fast path (TradeSetting n=10)": TradeSetting(AGENTS)}
    results = {name: measure(s, repeats, chunk) for name, s in settings.items()}
    trade = results["trade fast path (TradeSetting n=10)"]
    for name, r in results.items():
        for key in ("expected_surplus", "first_pass"):
            r[f"{key}_ratio_to_trade"] = (r[f"{key}_agent_profiles_per_s"]
                                          / trade[f"{key}_agent_profiles_per_s"])
    report["results"] = results
    report["target_1e6_met"] = {name: r["first_pass_agent_profiles_per_s"] >= 1e6
                                for name, r in results.items()}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
