"""``riskpart report DIR``: across-replicate summaries of a sweep, complete or not.

Per replicate, a simulation is reduced to its steady state (the last quarter of its rounds):
participation rate, efficiency (Σ welfare / Σ first-best welfare), revenue and deficit rate.
A study replicate already is one row per (n, mechanism, role).  Across replicates each metric
gets a mean and a 95% confidence interval (Student t), per cell of the grid and per mechanism.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from scenarios.steady import METRICS, replicate_summary
from scenarios.sweep_run import SweepRefused, read_dataset, read_meta, readable

SIM_METRICS = METRICS
SHARES = ("participation_rate", "efficiency", "deficit_rate", "unravelled_share", "hot_stove_share")     # intervals clipped to [0, 1]
STUDY_METRICS = ("loss_probability", "expected_utility", "lambda_star")


def replicate_metrics(frame: pd.DataFrame, params: list[str]) -> pd.DataFrame:
    """One row per (cell, mechanism, replicate) of a simulation: steady-state metrics."""
    return replicate_summary(frame, keys=("cell", *params, "mechanism", "replicate"))


def confidence(frame: pd.DataFrame, keys: list[str], metrics) -> pd.DataFrame:
    """Mean, standard deviation, replicates and 95% t-interval of each metric per group."""
    out = []
    for key, g in frame.groupby(keys, dropna=False, sort=True):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        row["replicates"] = len(g)
        for m in metrics:
            row.update(_interval(m, g[m].to_numpy(dtype=float), clip=m in SHARES))
        out.append(row)
    return pd.DataFrame(out)


def _interval(name: str, x: np.ndarray, clip: bool = False) -> dict:
    """Mean, sd and 95% t-interval; an infinite value (λ* of a role that never lost) makes
    the mean infinite and the spread undefined."""
    x = x[~np.isnan(x)]          # e.g. efficiency of a replicate with no possible trade
    counted = {f"{name}_replicates": len(x)}      # those with a value: the interval's basis
    if len(x) == 0:
        return {**{f"{name}_{k}": float("nan") for k in ("mean", "sd", "ci_low", "ci_high")},
                **counted}
    mean = float(np.mean(x))
    if len(x) > 1 and np.isfinite(x).all():
        sd = float(np.std(x, ddof=1))
        half = float(stats.t.ppf(0.975, len(x) - 1) * sd / np.sqrt(len(x)))
    else:
        sd = half = float("nan")
    low, high = (mean - half, mean + half) if np.isfinite(half) else (float("nan"),) * 2
    if np.isinf(mean) and np.isinf(x).all():
        low = high = mean
    if clip and np.isfinite(half):
        low, high = max(low, 0.0), min(high, 1.0)
    return {f"{name}_mean": mean, f"{name}_sd": sd, f"{name}_ci_low": low, f"{name}_ci_high": high,
            **counted}


def report(out_dir: Path) -> tuple[pd.DataFrame, str]:
    """Write report/summary.csv and one figure per swept field; returns (table, status line)."""
    out_dir = Path(out_dir)
    meta = read_meta(out_dir)
    planned = meta["tasks"]
    done = [f for f in planned if readable(out_dir / "chunks" / f)]
    status = f"{len(done)} of {len(planned)} tasks complete ({100 * len(done) // len(planned)}%)"
    if (out_dir / "failures.json").exists():
        status += "; some tasks failed: see failures.json"
    frame = read_dataset(out_dir)
    params = list(meta["cells"][0]) if meta["cells"] else []
    if frame.empty:
        return pd.DataFrame(), status + "; nothing to report yet"
    if meta["kind"] == "simulation":
        table = confidence(replicate_metrics(frame, params), ["cell", *params, "mechanism"],
                           SIM_METRICS)
        metric = "participation_rate"
    else:
        table = confidence(frame, ["cell", *params, "n", "mechanism", "role"], STUDY_METRICS)
        metric = "lambda_star"
    target = out_dir / "report"
    if target.exists() and not target.is_dir():
        raise SweepRefused(f"{target} exists and is not a folder")
    target.mkdir(exist_ok=True)
    _replace(target / "summary.csv", lambda p: table.to_csv(p, index=False))
    shown = table if meta["kind"] == "simulation" else _worst_role(table)
    for p in params:
        _replace(target / f"{_safe(p)}.png", lambda f, p=p: _figure(shown, p, metric, f))
    _replace(target / "status.txt", lambda p: Path(p).write_text(status + "\n"))
    return table, status


def _replace(path: Path, write) -> None:
    """Write through a temporary file, so a killed report never leaves half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def _worst_role(table: pd.DataFrame) -> pd.DataFrame:
    """For study figures: at the largest n, the role with the smallest mean λ* per cell and
    mechanism — the paper's Figure 2 quantity — instead of an average over roles and sizes."""
    top = table[table.n == table.n.max()]
    pick = top.groupby(["cell", "mechanism"], sort=False).lambda_star_mean.idxmin()
    return top.loc[pick.values]


def _figure(table: pd.DataFrame, param: str, metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    marginal = table.groupby([param, "mechanism"], sort=True).agg(
        mean=(f"{metric}_mean", "mean"), low=(f"{metric}_ci_low", "mean"),
        high=(f"{metric}_ci_high", "mean")).reset_index()
    for mech, g in marginal.groupby("mechanism", sort=False):
        x = g[param].astype(str) if g[param].dtype == object else g[param]
        ax.errorbar(x, g["mean"], yerr=[g["mean"] - g["low"], g["high"] - g["mean"]],
                    marker="o", capsize=3, label=mech)
    ax.set_xlabel(param)
    ax.set_ylabel(metric if metric != "lambda_star"
                  else f"smallest λ* over roles at n = {int(table.n.max())}")
    ax.set_title("mean and 95% CI across replicates (other swept fields averaged)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
