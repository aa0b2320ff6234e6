"""Adaptive agents: what they believe about their own gains and losses, and how they learn.

An adaptive agent does not know the prior or the mechanism.  It keeps estimates of E[x⁺] and
E[x⁻] of its realised utility x in the markets it took part in, starting from a stated prior
belief, and joins iff its loss-averse expected utility is not negative: λ·Ê[x⁻] ≤ Ê[x⁺].

- ``mean``: the sample mean with the prior counted as ``prior_weight`` observations, so after k
  observations Ê = (w·prior + Σ x) / (w + k): it converges to the true expectation if the
  agent keeps taking part.
- ``ewma``: Ê ← (1 − α) Ê + α x: recent markets weigh more; the estimate keeps fluctuating.

An agent that stays out learns nothing, so one bad early draw can keep it out for good — the
"hot stove" effect (Denrell and March 2001, Organization Science 12(5):523–538).  It re-tries
with probability ``retry`` each round it is out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ESTIMATORS = ("mean", "ewma")


@dataclass(frozen=True)
class AdaptiveSpec:
    estimator: str = "mean"
    alpha: float = 0.1            # ewma weight of the newest market, in (0, 1]
    prior_gain: float = 0.1       # initial Ê[x⁺]
    prior_loss: float = 0.0       # initial Ê[x⁻]
    prior_weight: float = 1.0     # mean: the prior counts as this many observations
    retry: float = 0.02           # chance per round that an agent who is out tries again


class Beliefs:
    """Ê[x⁺], Ê[x⁻] and observation counts of ``size`` agents, as arrays."""

    def __init__(self, spec: AdaptiveSpec, size: int) -> None:
        self.spec = spec
        self.gain = np.full(size, float(spec.prior_gain))
        self.loss = np.full(size, float(spec.prior_loss))
        self.observed = np.zeros(size, dtype=np.int64)

    def update(self, agents: np.ndarray, utility: np.ndarray) -> None:
        """Learn from the realised utilities of ``agents`` (indices) in markets that ran."""
        self.observed[agents] += 1
        if self.spec.estimator == "mean":
            step = 1.0 / (self.spec.prior_weight + self.observed[agents])
        else:
            step = self.spec.alpha
        self.gain[agents] += step * (np.maximum(utility, 0.0) - self.gain[agents])
        self.loss[agents] += step * (np.maximum(-utility, 0.0) - self.loss[agents])

    def wants_in(self, lam: np.ndarray, agents=slice(None)) -> np.ndarray:
        """Join iff Ê[u_λ(x)] = Ê[x⁺] − λ Ê[x⁻] ≥ 0."""
        return lam * self.loss[agents] <= self.gain[agents]

    def intend(self, agents: np.ndarray, lam: np.ndarray, joined_before: np.ndarray,
               rng) -> np.ndarray:
        """This round's choice of ``agents`` (indices; ``lam`` and ``joined_before`` are
        theirs): in if the estimate says so; one that was out also re-tries with probability
        ``retry`` (one uniform draw per agent every round, so the random stream does not
        depend on the choices)."""
        coin = rng.random(len(agents)) < self.spec.retry
        return self.wants_in(lam, agents) | (~joined_before & coin)
