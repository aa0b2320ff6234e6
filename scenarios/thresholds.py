"""λ* per role and market size for one mechanism: the static study behind every decision.

The Mesa model never re-simulates per agent: the driver computes this table once per
(setting, mechanism) with the population study and hands it to every replicate.
"""

from __future__ import annotations

import math

from center.trade import TradeSetting
from scenarios.executors import SerialExecutor
from scenarios.study import StudyTask, run_study

DEFAULT_CHUNK = 16384


def threshold_table(mechanism, sizes, holder_prior, buyer_prior, profiles: int,
                    seed: int, executor=None) -> dict[int, dict]:
    """{n: {'holder': λ*, 'buyer': λ*, 'center': λ*, 'rho': ρ or None}} for n in ``sizes``."""
    tasks = [StudyTask(TradeSetting(n, holder_prior, buyer_prior), (mechanism,), profiles,
                       min(DEFAULT_CHUNK, profiles), seed) for n in sizes]
    executor = executor or SerialExecutor()
    rows = run_study(tasks, executor, progress=False)
    table: dict[int, dict] = {}
    for row in rows:
        entry = table.setdefault(int(row["n"]), {"rho": row["rho"]})
        entry[row["role"]] = row["lambda_star"]
    for entry in table.values():
        rho = entry["rho"]
        entry["rho"] = None if rho is None or (isinstance(rho, float) and math.isnan(rho)) else rho
    return table
