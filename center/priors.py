"""Priors over a scalar type: sampling, CDF and the two partial integrals.

The expectations of the paper's mechanisms in trade settings need, for a prior with CDF F,

    below(t) = ∫_{-∞}^t F(x) dx      = E[(t − X)^+]
    above(t) = ∫_t^{∞} (1 − F(x)) dx = E[(X − t)^+]

and ``above(t) − below(t) = E[X] − t`` holds exactly.  Every method is vectorised: arrays
in, arrays of the same shape out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special


@dataclass(frozen=True)
class Uniform:
    """Uniform prior on [low, high]."""

    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if not self.high > self.low:
            raise ValueError(f"uniform prior needs low < high, got [{self.low}, {self.high}]")

    @property
    def mean(self) -> float:
        return 0.5 * (self.low + self.high)

    @property
    def core(self) -> tuple[float, float]:
        """The interval that holds all of the mass that matters numerically."""
        return (self.low, self.high)

    def sample(self, rng: np.random.Generator, shape) -> np.ndarray:
        return self.low + (self.high - self.low) * rng.random(shape)

    def cdf(self, x) -> np.ndarray:
        return np.clip((np.asarray(x, float) - self.low) / (self.high - self.low), 0.0, 1.0)

    def pdf(self, x) -> np.ndarray:
        x = np.asarray(x, float)
        inside = (x >= self.low) & (x <= self.high)
        return np.where(inside, 1.0 / (self.high - self.low), 0.0)

    def below(self, t) -> np.ndarray:
        t = np.asarray(t, float)
        inside = np.clip(t, self.low, self.high) - self.low
        return inside * inside / (2.0 * (self.high - self.low)) + np.maximum(t - self.high, 0.0)

    def above(self, t) -> np.ndarray:
        t = np.asarray(t, float)
        inside = self.high - np.clip(t, self.low, self.high)
        return inside * inside / (2.0 * (self.high - self.low)) + np.maximum(self.low - t, 0.0)


@dataclass(frozen=True)
class TruncatedNormal:
    """Normal(mu, sigma) truncated to [low, high]."""

    mu: float = 0.5
    sigma: float = 0.2
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if not self.sigma > 0:
            raise ValueError(f"truncated normal needs sigma > 0, got {self.sigma}")
        if not self.high > self.low:
            raise ValueError(f"truncated normal needs low < high, got [{self.low}, {self.high}]")
        if not self._mass > 1e-12:
            raise ValueError("truncated normal puts no mass on [low, high]")

    @property
    def _alpha(self) -> float:
        return (self.low - self.mu) / self.sigma

    @property
    def _beta(self) -> float:
        return (self.high - self.mu) / self.sigma

    @property
    def _mass(self) -> float:
        return float(special.ndtr(self._beta) - special.ndtr(self._alpha))

    def _partial_mean(self, t) -> np.ndarray:
        """E[X · 1{X < t}] for t clipped to the support."""
        z = (np.clip(t, self.low, self.high) - self.mu) / self.sigma
        mass = special.ndtr(z) - special.ndtr(self._alpha)
        density = _phi(z) - _phi(self._alpha)
        return (self.mu * mass - self.sigma * density) / self._mass

    @property
    def mean(self) -> float:
        return float(self._partial_mean(self.high))

    @property
    def core(self) -> tuple[float, float]:
        """The support cut to mu ± 12 sigma: outside it lies less than 1e-32 of the mass."""
        return (max(self.low, self.mu - 12 * self.sigma), min(self.high, self.mu + 12 * self.sigma))

    def sample(self, rng: np.random.Generator, shape) -> np.ndarray:
        lo, hi = special.ndtr(self._alpha), special.ndtr(self._beta)
        u = lo + (hi - lo) * rng.random(shape)
        return np.clip(self.mu + self.sigma * special.ndtri(u), self.low, self.high)

    def cdf(self, x) -> np.ndarray:
        z = (np.clip(np.asarray(x, float), self.low, self.high) - self.mu) / self.sigma
        return np.clip((special.ndtr(z) - special.ndtr(self._alpha)) / self._mass, 0.0, 1.0)

    def pdf(self, x) -> np.ndarray:
        x = np.asarray(x, float)
        inside = (x >= self.low) & (x <= self.high)
        return np.where(inside, _phi((x - self.mu) / self.sigma) / (self.sigma * self._mass), 0.0)

    def below(self, t) -> np.ndarray:
        # E[(t − X)^+] = t·F(t) − E[X·1{X < t}] inside the support, linear beyond it.
        t = np.asarray(t, float)
        tc = np.clip(t, self.low, self.high)
        return tc * self.cdf(tc) - self._partial_mean(tc) + np.maximum(t - self.high, 0.0)

    def above(self, t) -> np.ndarray:
        t = np.asarray(t, float)
        return self.below(t) + self.mean - t


def _phi(z):
    return np.exp(-0.5 * np.square(z)) / np.sqrt(2.0 * np.pi)


Prior = Uniform | TruncatedNormal
PRIOR_FAMILIES = {"uniform": Uniform, "truncated_normal": TruncatedNormal}
