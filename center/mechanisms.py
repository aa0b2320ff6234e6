"""The paper's mechanisms and the two references, as transfer rules over batches.

Every mechanism maps a batch of R reported profiles to transfers T (R, n), paid *to* the
agents.  Utilities are values + T and the center's revenue is −Σ_i T_i.

Groves mechanisms (VCG, M1, M2, M3) pay T_i = v_-i(θ) − h_i(θ_-i).  The paper's three use
h_i = c_i · E_i(θ_-i) (eq. 1, 4, 5–6), so u_i = v(θ) − c_i E_i; they differ only in c_i.

Each class declares the properties the paper proves for it; ``tests/test_contracts.py`` holds
every mechanism to its declaration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

DOMINANT = "dominant strategy"
BAYES_NASH = "Bayes-Nash"
STRONG_BALANCE = "strong budget balance"
EX_POST_NO_DEFICIT = "ex post no deficit"
EX_ANTE_NO_DEFICIT = "ex ante no deficit"
EX_ANTE_STAR_IR = "ex ante* IR"
NO_IR = "none in general"


@dataclass(frozen=True)
class Outcome:
    """Result of running a mechanism on R profiles."""

    utility: np.ndarray   # (R, n) value plus transfer of every agent
    revenue: np.ndarray   # (R,) the center's net receipts, −Σ_i T_i


class Mechanism:
    """Base class: subclasses set the declarations and implement ``transfers``."""

    name: ClassVar[str]
    truthfulness: ClassVar[str]
    budget: ClassVar[str]
    participation: ClassVar[str]
    # Every buyer who is not the highest gets the same utility (trade): see TradeBatch.alike_groups.
    losers_alike: ClassVar[bool] = True

    def transfers(self, batch) -> np.ndarray:
        raise NotImplementedError

    def revenue(self, batch, transfers: np.ndarray) -> np.ndarray:
        return -transfers.sum(axis=1)

    def run(self, batch) -> Outcome:
        t = self.transfers(batch)
        return Outcome(batch.values + t, self.revenue(batch, t))

    @property
    def label(self) -> str:
        return self.name


class VCG(Mechanism):
    """Clarke pivot: T_i = v_-i(θ) − max_o v_-i(θ_-i, o)."""

    name = "VCG"
    truthfulness = DOMINANT
    budget = EX_POST_NO_DEFICIT        # with non-negative holder values, as in the paper's study
    participation = NO_IR              # the holder never gains in trade (section 2.1)

    def transfers(self, batch) -> np.ndarray:
        return batch.welfare[:, None] - batch.values - batch.clarke_pivot


class AGV(Mechanism):
    """Expected externality: T_i = ξ_i(θ_i) − Σ_{j≠i} ξ_j(θ_j) / (n − 1)."""

    name = "AGV"
    truthfulness = BAYES_NASH
    budget = STRONG_BALANCE
    participation = NO_IR              # ex ante IR only for n ≥ 3 in uniform trade (section 4)
    losers_alike = False               # ξ_i depends on each buyer's own value

    def transfers(self, batch) -> np.ndarray:
        xi = batch.expected_externality
        others = (xi.sum(axis=1, keepdims=True) - xi) / (batch.n - 1)
        return xi - others

    def revenue(self, batch, transfers: np.ndarray) -> np.ndarray:
        # Σ_i T_i is zero by construction; report the exact zero, not rounding noise.
        return np.zeros(len(transfers))


class ShareMechanism(Mechanism):
    """u_i = v(θ) − c_i E_i(θ_-i): the family of Mechanisms 1–3."""

    truthfulness = DOMINANT
    budget = EX_ANTE_NO_DEFICIT
    participation = EX_ANTE_STAR_IR

    def coefficients(self, n: int, holder: int) -> np.ndarray:
        """c_i for every agent, shape (n,)."""
        raise NotImplementedError

    def transfers(self, batch) -> np.ndarray:
        c = self.coefficients(batch.n, batch.holder)
        return batch.welfare[:, None] - batch.values - c * batch.expected_surplus

    def expected_share(self, n: int, holder: int) -> np.ndarray:
        """Share of the expected surplus E[v] each agent and the center expect, (n + 1,).

        E over θ̃_i of u_i = (1 − c_i)·E[v | θ_-i], so agent i's share is 1 − c_i and the
        center's is Σ c_i − (n − 1) (last entry).
        """
        c = self.coefficients(n, holder)
        return np.append(1.0 - c, c.sum() - (n - 1))


class M1(ShareMechanism):
    """Surplus extracting (eq. 1): c_i = 1."""

    name = "M1"

    def coefficients(self, n: int, holder: int) -> np.ndarray:
        return np.ones(n)


class M2(ShareMechanism):
    """Surplus sharing (eq. 4): c_i = n / (n + 1)."""

    name = "M2"

    def coefficients(self, n: int, holder: int) -> np.ndarray:
        return np.full(n, n / (n + 1))


@dataclass(frozen=True)
class M3(ShareMechanism):
    """Risk minimizing (eq. 5–6): holder c = 1 − ρ, others c = (n − 2 + 2ρ)/(n − 1)."""

    rho: float = 0.35
    name: ClassVar[str] = "M3"

    def __post_init__(self) -> None:
        if not 0.0 <= self.rho <= 0.5:
            raise ValueError(f"M3 needs 0 ≤ ρ ≤ 0.5 (Theorem 5), got {self.rho}")

    def coefficients(self, n: int, holder: int) -> np.ndarray:
        c = np.full(n, (n - 2 + 2 * self.rho) / (n - 1))
        c[holder] = 1.0 - self.rho
        return c

    @property
    def label(self) -> str:
        return f"M3(rho={self.rho:.6g})"


def m3_affine(batch):
    """M3's utilities and revenue as a + ρ·b, for the exact ρ tuning.

    Returns (a_u, b_u, a_rev, b_rev) with shapes (R, n), (R, n), (R,), (R,).
    """
    c0 = M3(0.0).coefficients(batch.n, batch.holder)
    c1 = M3(0.5).coefficients(batch.n, batch.holder) * 2.0 - 2.0 * c0
    e = batch.expected_surplus
    a_u = batch.welfare[:, None] - c0 * e
    b_u = -c1 * e
    a_rev = (e * c0).sum(axis=1) - (batch.n - 1) * batch.welfare
    b_rev = (e * c1).sum(axis=1)
    return a_u, b_u, a_rev, b_rev


FIXED = {"VCG": VCG, "AGV": AGV, "M1": M1, "M2": M2}
TUNED = ("M3*", "M3+")
MECHANISM_NAMES = ("VCG", "AGV", "M1", "M2", "M3", "M3*", "M3+")
