"""Priors over a scalar type: sampling, CDF, quantiles and the partial integrals.

The expectations of the paper's mechanisms in trade settings need, for a prior with CDF F,

    below(t) = ∫_{-∞}^t F(x) dx      = E[(t − X)^+]
    above(t) = ∫_t^{∞} (1 − F(x)) dx = E[(X − t)^+]

and ``above(t) − below(t) = E[X] − t`` holds exactly; ``partial_mean(t) = E[X·1{X ≤ t}]``
and ``ppf`` (the quantile function, for the Gaussian copula) complete the set.  Every method is
vectorised: arrays in, arrays of the same shape out.

Families: Uniform, TruncatedNormal, Beta (scaled to [low, high]) and Discrete (finitely many
values with probabilities: an empirical distribution).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special


class _Scalar:
    """Methods shared by every family (each defines cdf, below, mean, low, high)."""

    discrete = False

    def above(self, t) -> np.ndarray:
        t = np.asarray(t, float)
        return self.below(t) + self.mean - t

    def partial_mean(self, t) -> np.ndarray:
        """E[X · 1{X ≤ t}]: t·F(t) − below(t) on the support, 0 below it, E[X] above it."""
        tc = np.clip(np.asarray(t, float), self.low, self.high)
        return tc * self.cdf(tc) - self.below(tc)


@dataclass(frozen=True)
class Uniform(_Scalar):
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

    def ppf(self, u) -> np.ndarray:
        return self.low + (self.high - self.low) * np.asarray(u, float)

    def partial_mean(self, t) -> np.ndarray:
        tc = np.clip(np.asarray(t, float), self.low, self.high)
        return (tc * tc - self.low * self.low) * (0.5 / (self.high - self.low))

    def below(self, t) -> np.ndarray:
        t = np.asarray(t, float)
        inside = np.clip(t, self.low, self.high) - self.low
        return inside * inside / (2.0 * (self.high - self.low)) + np.maximum(t - self.high, 0.0)

    def above(self, t) -> np.ndarray:
        t = np.asarray(t, float)
        inside = self.high - np.clip(t, self.low, self.high)
        return inside * inside / (2.0 * (self.high - self.low)) + np.maximum(self.low - t, 0.0)


@dataclass(frozen=True)
class TruncatedNormal(_Scalar):
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
        return self.ppf(rng.random(shape))

    def ppf(self, u) -> np.ndarray:
        lo, hi = special.ndtr(self._alpha), special.ndtr(self._beta)
        u = lo + (hi - lo) * np.asarray(u, float)
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


@dataclass(frozen=True)
class Beta(_Scalar):
    """Beta(a, b) scaled to [low, high]: X = low + (high − low)·Y, Y ~ Beta(a, b)."""

    a: float = 2.0
    b: float = 2.0
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if not (self.a > 0 and self.b > 0):
            raise ValueError(f"beta prior needs a > 0 and b > 0, got a = {self.a}, b = {self.b}")
        if not self.high > self.low:
            raise ValueError(f"beta prior needs low < high, got [{self.low}, {self.high}]")

    @property
    def _width(self) -> float:
        return self.high - self.low

    @property
    def mean(self) -> float:
        return self.low + self._width * self.a / (self.a + self.b)

    @property
    def core(self) -> tuple[float, float]:
        return (self.low, self.high)

    def _y(self, x) -> np.ndarray:
        return np.clip((np.asarray(x, float) - self.low) / self._width, 0.0, 1.0)

    def sample(self, rng: np.random.Generator, shape) -> np.ndarray:
        return self.low + self._width * rng.beta(self.a, self.b, shape)

    def ppf(self, u) -> np.ndarray:
        return self.low + self._width * special.betaincinv(self.a, self.b, np.asarray(u, float))

    def cdf(self, x) -> np.ndarray:
        return special.betainc(self.a, self.b, self._y(x))

    def pdf(self, x) -> np.ndarray:
        x = np.asarray(x, float)
        y = (x - self.low) / self._width
        inside = (y >= 0) & (y <= 1)
        yc = np.clip(y, 0.0, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            log = ((self.a - 1) * np.log(yc) + (self.b - 1) * np.log1p(-yc)
                   - special.betaln(self.a, self.b))
            dens = np.exp(log) / self._width
        return np.where(inside, np.nan_to_num(dens, nan=0.0, posinf=np.inf), 0.0)

    def partial_mean(self, t) -> np.ndarray:
        # E[Y·1{Y ≤ y}] = a/(a+b) · I_y(a + 1, b) for Y ~ Beta(a, b).
        y = self._y(t)
        share = self.a / (self.a + self.b)
        return self.low * special.betainc(self.a, self.b, y) + self._width * share * special.betainc(
            self.a + 1, self.b, y)

    def below(self, t) -> np.ndarray:
        t = np.asarray(t, float)
        tc = np.clip(t, self.low, self.high)
        return tc * self.cdf(tc) - self.partial_mean(tc) + np.maximum(t - self.high, 0.0)


@dataclass(frozen=True)
class Discrete(_Scalar):
    """Finitely many values with probabilities (an empirical distribution when they are
    observed frequencies).  Values must be distinct; probabilities ≥ 0 and sum to 1."""

    values: tuple = (0.0, 1.0)
    probabilities: tuple = (0.5, 0.5)
    discrete = True

    def __post_init__(self) -> None:
        v = np.asarray(self.values, float)
        p = np.asarray(self.probabilities, float)
        if v.ndim != 1 or v.size == 0 or v.shape != p.shape:
            raise ValueError("discrete prior needs as many probabilities as values (at least one)")
        if not np.all(np.isfinite(v)) or len(np.unique(v)) != v.size:
            raise ValueError("discrete prior needs distinct finite values")
        if np.any(p < 0) or abs(p.sum() - 1.0) > 1e-9:
            raise ValueError(f"discrete prior probabilities must be ≥ 0 and sum to 1, got {p.sum():g}")
        order = np.argsort(v)
        object.__setattr__(self, "values", tuple(float(x) for x in v[order]))
        object.__setattr__(self, "probabilities", tuple(float(x) for x in p[order] / p.sum()))

    @property
    def _v(self) -> np.ndarray:
        return np.asarray(self.values)

    @property
    def _p(self) -> np.ndarray:
        return np.asarray(self.probabilities)

    @property
    def _cum(self) -> np.ndarray:
        c = np.concatenate([[0.0], np.cumsum(self._p)])
        c[-1] = 1.0
        return c

    @property
    def low(self) -> float:
        return self.values[0]

    @property
    def high(self) -> float:
        return self.values[-1]

    @property
    def mean(self) -> float:
        return float(self._v @ self._p)

    @property
    def core(self) -> tuple[float, float]:
        return (self.low, self.high)

    def sample(self, rng: np.random.Generator, shape) -> np.ndarray:
        return self.ppf(rng.random(shape))

    def ppf(self, u) -> np.ndarray:
        """The value whose CDF step holds u: F(v−) ≤ u < F(v); zero-probability values never."""
        k = np.searchsorted(self._cum[1:], np.asarray(u, float), side="right")
        return self._v[np.minimum(k, len(self.values) - 1)]

    def cdf(self, x) -> np.ndarray:
        return self._cum[np.searchsorted(self._v, np.asarray(x, float), side="right")]

    def pmf(self, x) -> np.ndarray:
        x = np.asarray(x, float)
        k = np.clip(np.searchsorted(self._v, x), 0, len(self.values) - 1)
        return np.where(self._v[k] == x, self._p[k], 0.0)

    def partial_mean(self, t) -> np.ndarray:
        pm = np.concatenate([[0.0], np.cumsum(self._v * self._p)])
        return pm[np.searchsorted(self._v, np.asarray(t, float), side="right")]

    def below(self, t) -> np.ndarray:
        t = np.asarray(t, float)
        return t * self.cdf(t) - self.partial_mean(t)


def _phi(z):
    return np.exp(-0.5 * np.square(z)) / np.sqrt(2.0 * np.pi)


Prior = Uniform | TruncatedNormal | Beta | Discrete
PRIOR_FAMILIES = {"uniform": Uniform, "truncated_normal": TruncatedNormal, "beta": Beta,
                  "discrete": Discrete}
