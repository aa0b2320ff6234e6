"""Loss-aversion coefficients for a population, drawn from a stated distribution.

Published estimates used by the shipped scenarios (cite them where you use them):

- Tversky and Kahneman (1992), "Advances in prospect theory", J. Risk Uncertainty 5:297–323:
  median λ = 2.25.
- Brown, Imai, Vieider and Camerer (2024), "Meta-analysis of empirical estimates of loss
  aversion", J. Economic Literature 62(2):485–516: mean λ = 1.955, 95% interval 1.82–2.10.
- Walasek, Mullett and Stewart (2024), "A meta-analysis of loss aversion in risky contexts",
  J. Economic Psychology 103:102740: λ = 1.31, 95% interval 1.10–1.53.
"""

from __future__ import annotations

import numpy as np

PUBLISHED = {
    "tversky_kahneman_1992": 2.25,
    "brown_et_al_2024": 1.955,
    "walasek_et_al_2024": 1.31,
}


def draw_lambdas(spec: dict, size: int, rng: np.random.Generator) -> np.ndarray:
    """λ for ``size`` agents from a validated distribution spec (scenarios/spec.py).

    fixed: every agent ``value``; lognormal: median ``median``, log-scale spread ``sigma``;
    preset: lognormal with a published estimate (PUBLISHED) as its median; list: one value per
    agent; mixture: each agent draws its component with the given weights, then its λ.
    """
    kind = spec["distribution"]
    if kind == "fixed":
        return np.full(size, float(spec["value"]))
    if kind in ("lognormal", "preset"):
        median = PUBLISHED[spec["name"]] if kind == "preset" else float(spec["median"])
        return median * np.exp(float(spec["sigma"]) * rng.standard_normal(size))
    if kind == "list":
        return np.resize(np.asarray(spec["values"], dtype=float), size)
    if kind == "mixture":
        parts = spec["components"]
        which = rng.choice(len(parts), size=size, p=[c["weight"] for c in parts])
        out = np.empty(size)
        for k, part in enumerate(parts):          # a loop over components, not agents
            chosen = which == k
            out[chosen] = draw_lambdas(part, int(chosen.sum()), rng)
        return out
    raise ValueError(f"unknown lambda distribution {kind!r}")


def lambda_cdf(spec: dict, x) -> np.ndarray:
    """P(λ ≤ x) under a validated distribution spec: the share of a population that joins a
    market whose λ* is x.  A list is its empirical distribution."""
    from scipy.special import ndtr

    x = np.asarray(x, dtype=float)
    kind = spec["distribution"]
    if kind == "fixed":
        return (float(spec["value"]) <= x).astype(float)
    if kind in ("lognormal", "preset"):
        median = PUBLISHED[spec["name"]] if kind == "preset" else float(spec["median"])
        sigma = float(spec["sigma"])
        if sigma == 0:
            return (median <= x).astype(float)
        with np.errstate(divide="ignore"):
            return ndtr(np.log(np.maximum(x, 0.0) / median) / sigma)
    if kind == "list":
        values = np.sort(np.asarray(spec["values"], dtype=float))
        return np.searchsorted(values, x, side="right") / len(values)
    if kind == "mixture":
        return sum(c["weight"] * lambda_cdf(c, x) for c in spec["components"])
    raise ValueError(f"unknown lambda distribution {kind!r}")


def assign_shares(shares: tuple, size: int, rng: np.random.Generator) -> np.ndarray:
    """Index of the share each of ``size`` agents gets: exact counts (largest remainders),
    placed on a random permutation, so a 30% share is 30% of the agents in every replicate."""
    weights = np.array([w for _, w in shares], dtype=float)
    exact = weights * size
    counts = np.floor(exact).astype(int)
    short = size - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    labels = np.repeat(np.arange(len(shares)), counts)
    return labels[rng.permutation(size)]
