"""Streaming per-role statistics of utilities: they merge exactly by addition.

A role's sample is pooled over its agents (all buyers are symmetric in trade).  Trade has the
roles holder, buyer and center (ROLES); a general setting declares its own as ``role_columns``
— ((label, columns), ...), e.g. one row per company — and the center comes last.  Per role we
keep five sums — count, losses, Σx, Σx⁺, Σx⁻ — from which follow the loss probability, the
expected utility and the participation threshold λ* = E[x⁺] / E[x⁻] (agents/preferences.py).
"""

from __future__ import annotations

import numpy as np

ROLES = ("holder", "buyer", "center")
FIELDS = ("count", "losses", "total", "positive", "negative")


def role_labels(setting_or_batch) -> tuple[str, ...]:
    """The role names of a setting's study rows, the center last."""
    columns = getattr(setting_or_batch, "role_columns", None)
    return ROLES if columns is None else tuple(label for label, _ in columns) + ("center",)


def role_samples(utility: np.ndarray, revenue: np.ndarray, holder: int,
                 groups=None, roles=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Weighted samples (x, w) per role, in ROLES order: holder, the other agents, revenue.

    ``groups`` — pairs (column per profile (R,), weight) — lists columns whose utilities stand
    for ``weight`` agents each: in trade every buyer but the highest gets the same utility under
    Groves mechanisms, so two columns per profile carry all n − 1 buyers.

    ``roles`` — ((label, columns), ...) of a general setting — pools each role's columns
    instead, in that order, then the revenue (``holder`` and ``groups`` are then unused).
    """
    ones = np.ones(len(revenue))
    if roles is not None:
        pooled = [utility[:, list(cols)].ravel(order="F") for _, cols in roles]
        return [(x, np.ones(x.size)) for x in pooled] + [(revenue, ones)]
    if groups is None:
        others = np.delete(utility, holder, axis=1).ravel()
        pooled = (others, np.ones(others.size))
    else:
        rows = np.arange(len(revenue))
        pooled = (np.concatenate([utility[rows, col] for col, _ in groups]),
                  np.concatenate([np.full(len(rows), float(w)) for _, w in groups]))
    return [(utility[:, holder], ones), pooled, (revenue, ones)]


def summarise(x: np.ndarray, w: np.ndarray, tolerance: float) -> np.ndarray:
    """The five sums of one role's weighted sample, shape (5,).

    A loss is x < −tolerance; anything above is a gain or rounding noise.  So that λ* and the
    loss probability never disagree, the gains are Σ x over the non-losses (noise included,
    it is below the tolerance) and the losses Σ (−x) over the losses.
    """
    loss = x < -tolerance
    lost = dot(w, np.where(loss, -x, 0.0))
    kept = dot(w, np.where(loss, 0.0, x))
    return np.array([w.sum(), dot(w, loss), dot(w, x), max(kept, 0.0), lost])


def dot(u: np.ndarray, v: np.ndarray) -> float:
    """Σ u·v by numpy's own loop, not BLAS: BLAS splits sums by thread count, and then the
    same chunk would round differently in a Ray worker (one thread) and in the driver."""
    return float(np.einsum("i,i->", u, v.astype(float, copy=False)))


def role_table(utility: np.ndarray, revenue: np.ndarray, holder: int,
               tolerance: float, groups=None, roles=None) -> np.ndarray:
    """Sums for every role, shape (3, 5) in ROLES × FIELDS order (roles + 1 rows with ``roles``)."""
    return np.stack([summarise(x, w, tolerance)
                     for x, w in role_samples(utility, revenue, holder, groups, roles)])


def finish(table: np.ndarray, profiles: int, labels=ROLES) -> list[dict]:
    """Turn merged sums (roles, 5) into one result dict per role (names in ``labels``).

    The standard error is the binomial one of a single agent's loss probability over
    ``profiles`` draws; the pooled buyer estimate is at least that precise.
    """
    rows = []
    for role, (count, losses, total, positive, negative) in zip(labels, table):
        p = losses / count
        rows.append({
            "role": role,
            "loss_probability": p,
            "loss_probability_se": float(np.sqrt(p * (1.0 - p) / profiles)),
            "expected_utility": total / count,
            "expected_gain": positive / count,      # E[x⁺]
            "expected_loss": negative / count,      # E[x⁻]: λ* = gain / loss
            "lambda_star": threshold(positive, negative),
        })
    return rows


def threshold(positive: float, negative: float) -> float:
    """λ* = Σx⁺ / Σx⁻, infinite when no loss ever happens."""
    return float(positive / negative) if negative > 0 else float("inf")
