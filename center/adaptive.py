"""A form of Mechanism 3 the paper does not have: ρ chosen for the population the Center faces.

M3* and M3+ choose ρ from the agents' risk alone.  A Center that believes the population's
loss-aversion coefficients follow a distribution G can instead choose the ρ that maximises

- ``participation``: the expected share of the market's members who join, or
- ``welfare``: the expected realised welfare of the market (zero when it does not run),

given each role's λ*(ρ) for a market of size s and its own λ_c (it runs iff λ_c ≤ λ*_c(ρ)).
With fixed roles the holder joins with probability G(λ*_h) and, since buyers need the holder,
each buyer with G(λ*_b) once the holder is in.  With rotating roles every member joins with
G(λ*_mixed).  These are the agents' ex ante choices for a full market of s; the model then
plays them out.

The candidate ρ are the 513 edges of the exact tuning's grid (center/tuning.py) plus the M3*
and M3+ optima, so the choice is at least as good as M3+ (and M3*) on its own objective.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from scipy.stats import binom

OBJECTIVES = ("participation", "welfare")
NODES = 64


@dataclass(frozen=True)
class AdaptiveM3:
    """M3 with ρ re-tuned for the market that formed, by ``objective`` under ``belief``.

    ``belief`` is a λ distribution spec (agents/population.py); None means the Center knows
    the population's own distribution.
    """

    objective: str = "participation"
    belief: dict | None = field(default=None, hash=False)
    name: ClassVar[str] = "M3-adaptive"

    @property
    def label(self) -> str:
        if self.belief is None:
            return f"M3-adaptive({self.objective})"
        return f"M3-adaptive({self.objective}, belief {belief_words(self.belief)})"


def belief_words(spec: dict) -> str:
    """A short name for a λ distribution spec, distinct for distinct specs."""
    kind = spec["distribution"]
    if kind == "fixed":
        return f"fixed {spec['value']:g}"
    if kind == "lognormal":
        return f"lognormal {spec['median']:g}/{spec['sigma']:g}"
    if kind == "preset":
        return f"{spec['name']}/{spec['sigma']:g}"
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()
    return f"{kind} {digest[:8]}"


def mixed_threshold(gain_holder, loss_holder, gain_buyer, loss_buyer, size: int):
    """λ* of an agent who is the holder with probability 1/size, a buyer otherwise."""
    gain = gain_holder + (size - 1) * gain_buyer
    loss = loss_holder + (size - 1) * loss_buyer
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(loss > 0, gain / np.where(loss > 0, loss, 1.0), np.inf)


def expected_participation(lam: dict, center_runs, cdf, size: int, rotating: bool):
    """Expected share of members who join, per candidate ρ; ``lam`` maps role → λ* arrays."""
    if rotating:
        return center_runs * cdf(lam["mixed"])
    holder = cdf(lam["holder"])
    return center_runs * holder * (1 + (size - 1) * cdf(lam["buyer"])) / size


def expected_welfare(lam: dict, center_runs, cdf, size: int, rotating: bool,
                     welfare_with: np.ndarray):
    """Expected realised welfare per candidate ρ; ``welfare_with[k]`` is E[v] with k buyers."""
    if rotating:
        members = np.arange(size + 1)
        p = binom.pmf(members[None, :], size, cdf(lam["mixed"])[:, None])
        buyers = np.maximum(members - 1, 0)          # one member holds the item
        return center_runs * (p * welfare_with[buyers]).sum(axis=1)
    k = np.arange(size)
    p = binom.pmf(k[None, :], size - 1, cdf(lam["buyer"])[:, None])
    return center_runs * cdf(lam["holder"]) * (p * welfare_with[:size]).sum(axis=1)


def first_best_welfare(holder_prior, buyer_prior, max_buyers: int) -> np.ndarray:
    """E[(max of k buyer values − holder value)⁺] for k = 0..max_buyers, by quadrature.

    (M − θ_h)⁺ = ∫ 1{θ_h < x < M} dx, so the expectation is ∫ F_h(x) (1 − F_b(x)^k) dx;
    Gauss–Legendre on each piece between the priors' bounds, where the integrand is smooth.
    """
    cuts = np.unique([holder_prior.low, holder_prior.high, buyer_prior.low, buyer_prior.high])
    cuts = cuts[(cuts >= holder_prior.low) & (cuts <= buyer_prior.high)]
    nodes, weights = np.polynomial.legendre.leggauss(NODES)
    k = np.arange(max_buyers + 1)
    total = np.zeros(max_buyers + 1)
    for lo, hi in zip(cuts[:-1], cuts[1:]):          # at most three pieces
        x = 0.5 * (hi - lo) * nodes + 0.5 * (hi + lo)
        f = holder_prior.cdf(x)[:, None] * (1 - buyer_prior.cdf(x)[:, None] ** k[None, :])
        total += 0.5 * (hi - lo) * (weights[:, None] * f).sum(axis=0)
    return total


def best_candidate(objective: str, lam: dict, center_runs, cdf, size: int, rotating: bool,
                   welfare_with: np.ndarray) -> int:
    """Index of the candidate ρ with the highest objective (the first of equals)."""
    if objective == "participation":
        value = expected_participation(lam, center_runs, cdf, size, rotating)
    else:
        value = expected_welfare(lam, center_runs, cdf, size, rotating, welfare_with)
    return int(np.argmax(value))
