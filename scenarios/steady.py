"""Steady-state summaries of simulation replicates (used by ``run`` and ``report``).

The steady state of a replicate is its last ``share`` of rounds (at least one).  Over it: participation rate,
efficiency (Σ welfare / Σ first-best welfare), mean revenue, deficit rate (share of the markets run that ended in a
deficit), share of rounds in which no market formed (unravelled), and share of adaptive agents
kept out although a rational agent with their λ would join a full market (hot stove).

Rounds to steady state: the first round from which the trailing moving average of the
participation rate (window: a twentieth of the rounds) stays within ±``band`` of the steady
participation rate until the end (rounds + 1 if it never does).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

STEADY_SHARE = 0.25
STEADY_BAND = 0.02
METRICS = ("participation_rate", "efficiency", "mean_revenue", "deficit_rate",
           "unravelled_share", "hot_stove_share", "rounds_to_steady")


def replicate_summary(rounds: pd.DataFrame, keys=("mechanism", "replicate"),
                      share: float | None = None, band: float | None = None) -> pd.DataFrame:
    """One row per group of ``keys`` (a replicate) with the METRICS.

    ``share`` and ``band`` default to the rows' own ``steady_share``/``steady_band`` columns
    (a sweep's cells carry their scenario's), else to STEADY_SHARE and STEADY_BAND.
    """
    rows = []
    for key, g in rounds.groupby(list(keys), sort=False, dropna=False):
        g = g.sort_values("round")
        own_share = _setting(g, "steady_share", share, STEADY_SHARE)
        own_band = _setting(g, "steady_band", band, STEADY_BAND)
        steady = g.tail(max(1, round(own_share * len(g))))      # at least the last round
        fb = steady.first_best_welfare.sum()
        rows.append({
            **dict(zip(keys, key if isinstance(key, tuple) else (key,))),
            "participation_rate": steady.participation_rate.mean(),
            "efficiency": _ratio(steady.welfare.sum(), fb),
            "mean_revenue": steady.revenue.mean() + 0.0,
            "deficit_rate": _ratio(steady.deficit_markets.sum(), steady.markets_run.sum()),
            "unravelled_share": float(np.mean(steady.unravelled)),
            "hot_stove_share": float(steady.hot_stove_share.mean()),
            "rounds_to_steady": rounds_to_steady(g.participation_rate.to_numpy(),
                                                 steady.participation_rate.mean(), own_band),
        })
    return pd.DataFrame(rows)


def _setting(group: pd.DataFrame, column: str, given, default) -> float:
    if given is not None:
        return given
    return float(group[column].iloc[0]) if column in group else default


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")


def rounds_to_steady(rate: np.ndarray, level: float, band: float) -> int:
    """First round (1-based) after which the moving average stays within level ± band."""
    window = max(1, len(rate) // 20)
    smooth = np.convolve(rate, np.ones(window) / window)[:len(rate)]
    smooth[:window - 1] = np.cumsum(rate[:window - 1]) / np.arange(1, window)
    outside = np.flatnonzero(np.abs(smooth - level) > band)
    return int(outside[-1] + 2) if len(outside) else 1


def mechanism_summary(per_replicate: pd.DataFrame) -> pd.DataFrame:
    """Means over replicates, one row per mechanism."""
    g = per_replicate.groupby("mechanism", sort=False)
    out = g[list(METRICS)].mean()
    out.insert(0, "replicates", g.size())
    return out.reset_index()
