"""The single-item trade setting (the paper's evaluation, section 4).

Agent 0 holds one item; agents 1..n−1 are buyers.  Types are values for the item, drawn
independently: the holder from ``holder_prior``, every buyer from ``buyer_prior``.
Values are normalised to the no-trade outcome (paper, Table 1): if the item moves to buyer j
the holder gets −θ_0 and buyer j gets θ_j; everybody else gets 0.  n = 2 is bilateral trade.

All expectations the mechanisms need are closed forms in the two highest buyer values, so a
batch of R profiles costs O(R·n).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from center.externality import trade_externality_tables
from center.priors import Prior, Uniform

HOLDER = 0


@dataclass(frozen=True)
class TradeSetting:
    """n ≥ 2 agents: one initial holder (column 0) and n − 1 buyers."""

    n: int
    holder_prior: Prior = Uniform()
    buyer_prior: Prior = Uniform()

    def __post_init__(self) -> None:
        if int(self.n) != self.n or self.n < 2:
            raise ValueError(f"trade needs n ≥ 2 agents, got {self.n}")

    holder = HOLDER

    @property
    def roles(self) -> tuple[str, ...]:
        """Role of each column: 'holder' then 'buyer' × (n − 1)."""
        return ("holder",) + ("buyer",) * (self.n - 1)

    @property
    def loss_tolerance(self) -> float:
        """A utility below −tolerance is a loss; above it is floating-point noise.

        Rounding errors of sums of n values grow like n·ε·(largest |value|); 1e-12 of the
        largest |value| is far above them (ε ≈ 2.2e-16) and far below any economic loss.
        """
        bounds = [self.holder_prior.low, self.holder_prior.high,
                  self.buyer_prior.low, self.buyer_prior.high]
        return 1e-12 * max(abs(x) for x in bounds)

    def sample(self, rng: np.random.Generator, profiles: int) -> np.ndarray:
        """Types (R, n): column 0 the holder, columns 1.. the buyers.

        Stored column-major: every per-profile reduction over agents then runs along
        contiguous memory, which is several times faster for the small n of a market.
        """
        theta = np.empty((profiles, self.n), order="F")
        theta[:, 0] = self.holder_prior.sample(rng, profiles)
        theta[:, 1:] = self.buyer_prior.sample(rng, (self.n - 1, profiles)).T
        return theta

    def batch(self, reports: np.ndarray) -> "TradeBatch":
        return TradeBatch(self, np.asarray(reports, dtype=float))

    @cached_property
    def _externality(self):
        return trade_externality_tables(self.n, self.holder_prior, self.buyer_prior)


class TradeBatch:
    """Everything the mechanisms need about R reported profiles (R, n), computed once.

    The efficient outcome is chosen on the reports; ``realised_values`` applies it to the
    true types, which is how a misreport is evaluated.
    """

    def __init__(self, setting: TradeSetting, reports: np.ndarray) -> None:
        if reports.ndim != 2 or reports.shape[1] != setting.n:
            raise ValueError(f"reports must have shape (R, {setting.n}), got {reports.shape}")
        self.setting = setting
        self.theta = reports
        self.n = setting.n
        self.holder = HOLDER
        buyers = reports[:, 1:]
        rows = np.arange(len(reports))
        self._top_col = np.argmax(buyers, axis=1)
        self._top1 = buyers[rows, self._top_col]
        if self.n > 2:
            rest = buyers.copy()
            rest[rows, self._top_col] = -np.inf
            self._top2 = rest.max(axis=1)
        else:
            self._top2 = np.full(len(reports), -np.inf)
        self.trade = self._top1 > reports[:, 0]
        # Column of the buyer who receives the item, or −1 when it stays with the holder.
        self.winner = np.where(self.trade, self._top_col + 1, -1)

    @property
    def alike_groups(self) -> list[tuple[np.ndarray, float]]:
        """Columns (R,) standing for all buyers when losers are alike, with their weights.

        Under mechanisms whose ``losers_alike`` is true every buyer but the highest gets the
        same utility (each faces the same highest other value), so the highest buyer and one
        other carry all n − 1 buyers (statistics.role_samples).
        """
        top = self._top_col + 1
        if self.n == 2:
            return [(top, 1.0)]
        return [(top, 1.0), (np.where(top == 1, 2, 1), float(self.n - 2))]

    @cached_property
    def welfare(self) -> np.ndarray:
        """v(θ) = max(0, highest buyer value − holder value), shape (R,)."""
        return np.maximum(self._top1 - self.theta[:, 0], 0.0)

    @cached_property
    def values(self) -> np.ndarray:
        """Reported values at the efficient outcome, (R, n)."""
        return self.realised_values(self.theta)

    def realised_values(self, true_types: np.ndarray) -> np.ndarray:
        """Values (R, n) of agents with ``true_types`` at the outcome chosen on the reports."""
        out = np.zeros(true_types.shape, order="F")
        rows = np.flatnonzero(self.trade)
        out[rows, 0] = -true_types[rows, 0]
        out[rows, self.winner[rows]] = true_types[rows, self.winner[rows]]
        return out

    @cached_property
    def expected_surplus(self) -> np.ndarray:
        """E_i(θ_-i) = E over θ̃_i of v(θ̃_i, θ_-i), shape (R, n).

        Holder: ∫_{-∞}^{M} F_h = below_h(M), M the highest buyer value.
        Buyer i: c + above_b(c) − θ_h with c = max(θ_h, highest other buyer value).
        """
        s, theta_h = self.setting, self.theta[:, 0]
        out = np.empty(self.theta.shape, order="F")
        out[:, 0] = s.holder_prior.below(self._top1)
        c_rest = np.maximum(theta_h, self._top1)      # buyers who are not the top one
        c_top = np.maximum(theta_h, self._top2)       # the top buyer sees the second value
        out[:, 1:] = (c_rest + s.buyer_prior.above(c_rest) - theta_h)[:, None]
        rows = np.arange(len(self.theta))
        out[rows, self._top_col + 1] = c_top + s.buyer_prior.above(c_top) - theta_h
        return out

    @cached_property
    def clarke_pivot(self) -> np.ndarray:
        """max over outcomes of the others' value v_-i(θ_-i, o), shape (R, n)."""
        theta_h = self.theta[:, 0]
        out = np.empty(self.theta.shape, order="F")
        out[:, 0] = np.maximum(self._top1, 0.0)
        # Without buyer i the best outcome for the others: keep, or give it to the best other
        # buyer, or to i (worth −θ_h to them).  max(0, max(other, 0) − θ_h) covers all three.
        rest = np.maximum(0.0, np.maximum(self._top1, 0.0) - theta_h)
        top = np.maximum(0.0, np.maximum(self._top2, 0.0) - theta_h)
        out[:, 1:] = rest[:, None]
        out[np.arange(len(self.theta)), self._top_col + 1] = top
        return out

    @cached_property
    def expected_externality(self) -> np.ndarray:
        """AGV's ξ_i(θ_i) = E over θ̃_-i of v_-i at f*(θ_i, θ̃_-i), shape (R, n)."""
        holder_xi, buyer_xi = self.setting._externality
        out = np.empty(self.theta.shape, order="F")
        out[:, 0] = holder_xi(self.theta[:, 0])
        out[:, 1:] = buyer_xi(self.theta[:, 1:])
        return out
