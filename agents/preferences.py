"""Loss-averse preferences (paper, eq. 8) and the participation threshold they imply."""

from __future__ import annotations

import numpy as np

from center.statistics import threshold


def loss_averse_utility(x, lam: float) -> np.ndarray:
    """u_λ(x) = x for x ≥ 0 and λ·x for x < 0 (eq. 8), elementwise."""
    x = np.asarray(x, dtype=float)
    return np.where(x < 0, lam * x, x)


def lambda_star(x) -> float:
    """Largest λ with E[u_λ(x)] ≥ 0: λ* = E[x⁺] / E[x⁻], ∞ if x is never negative.

    E[u_λ(x)] = E[x⁺] − λ E[x⁻] is decreasing in λ, so a role joins ex ante iff λ ≤ λ*
    (this closed form replaces the paper's binary search, footnote 10).
    """
    x = np.asarray(x, dtype=float)
    return threshold(np.maximum(x, 0.0).sum(), np.maximum(-x, 0.0).sum())


def joins(lam, threshold_value) -> np.ndarray:
    """Ex ante participation: join iff λ ≤ λ* (indifference counts as joining)."""
    return np.asarray(lam) <= np.asarray(threshold_value)
