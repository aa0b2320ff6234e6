"""What each role expects from a market of size n under one mechanism: the static study
behind every rational decision and every re-tuned ρ.

The Mesa model never re-simulates per agent: the driver computes this table once per
(setting, mechanism) with the population study and hands it to every replicate.  An entry is

    {'rho': ρ or None, 'holder': λ*, 'buyer': λ*, 'center': λ*,
     'gain': {role: E[x⁺]}, 'loss': {role: E[x⁻]}}
"""

from __future__ import annotations

import math

import numpy as np

from center import tuning
from center.adaptive import AdaptiveM3, best_candidate, first_best_welfare, mixed_threshold
from center.statistics import ROLES, finish
from center.trade import TradeSetting
from scenarios.executors import SerialExecutor
from scenarios.study import StudyTask, merged_results, run_study

DEFAULT_CHUNK = 16384


def threshold_table(mechanism, sizes, holder_prior, buyer_prior, profiles: int, seed: int,
                    executor=None, center_lambda: float = 1.0, belief_cdf=None,
                    rotating: bool = False, progress: bool = False) -> dict[int, dict]:
    """{n: entry} for n in ``sizes`` (module doc).

    For AdaptiveM3 the Center's own λ, its belief about the agents' λ (a CDF) and whether
    roles rotate enter the choice of ρ.
    """
    executor = executor or SerialExecutor()
    study_as = "M3+" if isinstance(mechanism, AdaptiveM3) else mechanism
    tasks = [StudyTask(TradeSetting(n, holder_prior, buyer_prior), (study_as,), profiles,
                       min(DEFAULT_CHUNK, profiles), seed) for n in sizes]
    if isinstance(mechanism, AdaptiveM3):
        welfare_with = first_best_welfare(holder_prior, buyer_prior, max(sizes))
        return {t.setting.n: _adaptive_entry(mechanism, t, m, center_lambda, belief_cdf,
                                             rotating, welfare_with)
                for t, m in merged_results(tasks, executor, progress)}
    table: dict[int, dict] = {}
    for row in run_study(tasks, executor, progress):
        entry = table.setdefault(int(row["n"]), {"rho": _rho(row["rho"]), "gain": {}, "loss": {}})
        _fill(entry, row)
    return table


def _rho(rho):
    return None if rho is None or (isinstance(rho, float) and math.isnan(rho)) else rho


def _fill(entry: dict, row: dict) -> None:
    entry[row["role"]] = row["lambda_star"]
    entry["gain"][row["role"]] = row["expected_gain"]
    entry["loss"][row["role"]] = row["expected_loss"]


def _adaptive_entry(mechanism: AdaptiveM3, task: StudyTask, merged: dict, center_lambda,
                    cdf, rotating: bool, welfare_with) -> dict:
    """The entry at the ρ that maximises the Center's objective among the candidates."""
    data = merged["m3"]
    tuned = [tuning.optimise(name, data)[1] for name in ("M3+", "M3*")]
    rhos = np.concatenate([tuned, tuning.EDGES])
    sums = {role: np.vstack([[data[role].sums(r) for r in tuned], data[role].sums_at_edges()])
            for role in ROLES}
    gain = {r: s[:, 3] / s[:, 0] for r, s in sums.items()}
    loss = {r: s[:, 4] / s[:, 0] for r, s in sums.items()}
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = {r: np.where(loss[r] > 0, gain[r] / loss[r], np.inf) for r in ROLES}
    size = task.setting.n
    lam["mixed"] = mixed_threshold(gain["holder"], loss["holder"], gain["buyer"],
                                   loss["buyer"], size)
    runs = center_lambda <= lam["center"]
    k = best_candidate(mechanism.objective, lam, runs, cdf, size, rotating, welfare_with)
    entry = {"rho": float(rhos[k]), "gain": {}, "loss": {}}
    for row in finish(np.stack([sums[r][k] for r in ROLES]), task.profiles):
        _fill(entry, row)
    return entry
