"""Single-item trade with correlated values: the trade fast path under a Gaussian copula.

Types are θ_i = F_i⁻¹(Φ(z_i)) with z ~ N(0, C) (center/copula.py): the holder's marginal is
``holder_prior``, every buyer's ``buyer_prior``.  The expected surplus keeps the trade closed
forms, with the conditional law G_i of θ_i given θ_-i in place of the prior:

    holder   E_h = E[(M − θ̃_h)⁺ | θ_-h]                  M the highest buyer value
    buyer i  E_i = c + E[(θ̃_i − c)⁺ | θ_-i] − θ_h        c = max(θ_h, highest other buyer)

each one Gauss–Legendre integral (copula.ConditionalLaw).  Buyers are no longer alike — each
one's conditional law depends on the others' values — so there is no pooling shortcut.  AGV's ξ
is tabulated under the same joint prior (center/finite.py, Monte Carlo over θ_-i | θ_i).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from center import finite
from center.copula import ConditionalLaw, GaussianCopula, latent_of, types_of
from center.trade import TradeBatch, TradeSetting


@dataclass(frozen=True)
class CorrelatedTradeSetting(TradeSetting):
    """TradeSetting whose n values are tied by ``copula`` (an n × n Gaussian copula)."""

    copula: GaussianCopula | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.copula is None or self.copula.n != self.n:
            raise ValueError(f"correlated trade needs an {self.n} × {self.n} copula")
        if self.holder_prior.discrete or self.buyer_prior.discrete:
            raise ValueError("correlated types need continuous priors")

    @property
    def priors(self) -> tuple:
        return (self.holder_prior,) + (self.buyer_prior,) * (self.n - 1)

    def sample(self, rng: np.random.Generator, profiles: int) -> np.ndarray:
        return np.asfortranarray(types_of(self.priors, self.copula.latent(rng, profiles)))

    def batch(self, reports: np.ndarray) -> "CorrelatedTradeBatch":
        return CorrelatedTradeBatch(self, np.asarray(reports, dtype=float))

    @cached_property
    def _externality(self):
        """(grid, ξ) per column: buyers share one table only when the copula treats them
        alike (finite.FiniteSetting.classes), otherwise each has its own."""
        return finite.trade(self.n, self.holder_prior, self.buyer_prior, self.copula).externality


class CorrelatedTradeBatch(TradeBatch):
    alike_groups = None

    @cached_property
    def expected_surplus(self) -> np.ndarray:
        s, theta = self.setting, self.theta
        theta_h = theta[:, 0]
        mu = s.copula.conditional_mean(latent_of(s.priors, theta))
        sigma = s.copula.conditional_sigma
        out = np.empty(theta.shape, order="F")
        holder = ConditionalLaw(s.priors[:1], mu[:, :1], sigma[:1])
        out[:, 0] = holder.below(self._top1[:, None])[:, 0]
        rows = np.arange(len(theta))
        c = np.repeat(np.maximum(theta_h, self._top1)[:, None], s.n - 1, axis=1)
        c[rows, self._top_col] = np.maximum(theta_h, self._top2)
        buyers = ConditionalLaw(s.priors[1:], mu[:, 1:], sigma[1:])
        out[:, 1:] = c + buyers.above(c) - theta_h[:, None]
        return out

    @cached_property
    def expected_externality(self) -> np.ndarray:
        out = np.empty(self.theta.shape, order="F")
        for j, (grid, xi) in enumerate(self.setting._externality):   # n tables, a few shared
            out[:, j] = np.interp(self.theta[:, j], grid, xi)
        return out
