"""Exact ρ tuning of Mechanism 3 over a Monte Carlo sample, in bounded memory.

Under M3 every sampled utility (and revenue) is affine in ρ: x_k(ρ) = a_k + ρ b_k.  A sample
is a loss when x < −tolerance (statistics.py); over ρ ∈ [0, 1/2] it crosses that line at most
once, at r_k = −(a_k + tolerance)/b_k.  The loss count and λ* = Σ_{no loss} x / Σ_{loss} (−x)
both follow from the set of samples that are not losses, so one histogram serves both.

Pass 1 (``Breakpoints``) histograms the sign changes on a grid of bins: per bin the count, Σa
and Σb of samples that turn positive (rising) and that turn negative (falling).  That gives the
exact loss counts and Σx⁺ at every bin edge and bounds inside every bin.  Bins whose bound could
beat the best edge are *candidates*; pass 2 (``collect``) gathers just their samples, and
``solve`` finds the exact optimum inside them:

- M3* (eq. 7): minimise the largest loss probability of any role — a step function, constant
  between consecutive sign changes; the midpoint of the best piece is returned.
- M3+: maximise the smallest λ* = P/(P − S) of any role — between sign changes every P and S is
  linear, so the optimum is at a piece's end or where two roles' λ* cross (a quadratic).

Histograms and gathered samples merge by addition and concatenation in chunk order, so the
result does not depend on how chunks were spread over workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from center.statistics import dot

BINS = 512
UPPER = 0.5
MAX_REFINED_BINS = 32


def bin_of(a: np.ndarray, b: np.ndarray, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Sign-change bin (−1: constant sign on [0, 1/2]) and direction (+1 rising, −1 falling)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = -(a + shift) / b
    inside = (b != 0) & (r > 0) & (r < UPPER)
    scaled = np.where(inside, r, 0.0) * (BINS / UPPER)
    bins = np.where(inside, np.minimum(scaled.astype(np.int64), BINS - 1), -1)
    return bins, np.sign(b)


@dataclass
class Breakpoints:
    """Pass-1 sums for one role and one shift.  ``add`` merges another chunk."""

    rise: np.ndarray = field(default_factory=lambda: np.zeros((3, BINS)))
    fall: np.ndarray = field(default_factory=lambda: np.zeros((3, BINS)))
    base: np.ndarray = field(default_factory=lambda: np.zeros(3))    # positive on all of [0, 1/2]
    total: np.ndarray = field(default_factory=lambda: np.zeros(3))   # every sample

    @classmethod
    def of(cls, a: np.ndarray, b: np.ndarray, w: np.ndarray, shift: float) -> "Breakpoints":
        """Histogram one chunk of weighted samples (each stands for w agents)."""
        bins, direction = bin_of(a, b, shift)
        # One bincount per sum: rising bins 0..B−1, falling B..2B−1, always positive 2B, never 2B+1.
        always = a + shift + 0.25 * b > 0          # constant sign on [0, 1/2]: test the midpoint
        slot = np.where(bins >= 0, bins + BINS * (direction < 0), 2 * BINS + 1 - always)
        sums = np.stack([np.bincount(slot, weights=x, minlength=2 * BINS + 2)
                         for x in (w, w * a, w * b)])
        out = cls()
        out.rise[:], out.fall[:] = sums[:, :BINS], sums[:, BINS:2 * BINS]
        out.base[:] = sums[:, 2 * BINS]
        out.total[:] = sums.sum(axis=1)
        return out

    def add(self, other: "Breakpoints") -> None:
        for name in ("rise", "fall", "base", "total"):
            getattr(self, name).__iadd__(getattr(other, name))

    def at_edges(self) -> np.ndarray:
        """(count, Σa, Σb) of the positive set at each bin edge j·w, shape (BINS + 1, 3)."""
        zero = np.zeros((3, 1))
        rise_before = np.cumsum(np.hstack([zero, self.rise]), axis=1)
        fall_from = np.cumsum(np.hstack([self.fall, zero])[:, ::-1], axis=1)[:, ::-1]
        return (self.base[:, None] + rise_before + fall_from).T

    def fixed_in(self, j: int) -> np.ndarray:
        """(count, Σa, Σb) of samples positive throughout bin j, excluding those changing in it."""
        return self.base + self.rise[:, :j].sum(axis=1) + self.fall[:, j + 1:].sum(axis=1)


EDGES = np.linspace(0.0, UPPER, BINS + 1)
WIDTH = UPPER / BINS


def _loss_share(pos_count, total_count):
    return (total_count - pos_count) / total_count


def _lambda(p_a, p_b, s_a, s_b, rho):
    p = p_a + rho * p_b
    n = p - (s_a + rho * s_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, p / n, np.inf)


def candidates(data: dict, objective: str) -> tuple[np.ndarray, float, float]:
    """Bins worth refining, and the best (value, ρ) among bin edges.

    ``data`` maps each role to its ``RoleBreakpoints``; objective is 'M3*' or 'M3+'.
    """
    if objective == "M3*":
        per_role, bound = [], []
        for role in data.values():
            h = role.hist
            per_role.append(_loss_share(h.at_edges()[:, 0], h.total[0]))
            inside = h.rise[0] + h.fall[0]
            fixed = h.at_edges()[1:, 0] - h.rise[0]      # positive at right edge minus newcomers
            bound.append(_loss_share(fixed + inside, h.total[0]))
        value = np.max(per_role, axis=0)
        best = int(np.argmin(value))
        bins = np.flatnonzero(np.max(bound, axis=0) < value[best])
        order = np.argsort(np.max(bound, axis=0)[bins], kind="stable")
    else:
        per_role, bound = [], []
        for role in data.values():
            h = role.hist
            e = h.at_edges()
            per_role.append(_lambda(e[:, 1], e[:, 2], h.total[1], h.total[2], EDGES))
            bound.append(_lambda_bound(h))
        value = np.min(per_role, axis=0)
        best = int(np.argmax(value))
        ub = np.min(bound, axis=0)
        bins = np.flatnonzero(ub > value[best])
        order = np.argsort(-ub[bins], kind="stable")
    return np.sort(bins[order][:MAX_REFINED_BINS]), float(value[best]), float(EDGES[best])


def _lambda_bound(h: Breakpoints) -> np.ndarray:
    """Upper bound of λ* inside each bin, shape (BINS,)."""
    e = h.at_edges()
    # Fixed set in bin j = positive at the left edge minus falling in j (they leave inside).
    fa = e[:-1, 1] - h.fall[1]
    fb = e[:-1, 2] - h.fall[2]
    slack = WIDTH * (h.rise[2] - h.fall[2])          # Σ|b|·w of samples changing in the bin
    lo, hi = EDGES[:-1], EDGES[1:]
    p_up = np.maximum(fa + lo * fb, fa + hi * fb) + slack
    s_lo, s_hi = h.total[1] + lo * h.total[2], h.total[1] + hi * h.total[2]
    n_low = np.minimum(fa + lo * fb - s_lo, fa + hi * fb - s_hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n_low > 0, p_up / n_low, np.inf)


def collect(a: np.ndarray, b: np.ndarray, w: np.ndarray, shift: float, bins: np.ndarray):
    """Pass 2: the weighted samples (a, b, w) whose sign change lies in one of ``bins``."""
    where, _ = bin_of(a, b, shift)
    keep = np.isin(where, bins)
    return a[keep], b[keep], w[keep]


def _in_bin(j: int, a, b, w, shift: float):
    where, direction = bin_of(a, b, shift)
    sel = where == j
    return a[sel], b[sel], w[sel], direction[sel]


def _events(j: int, hist: Breakpoints, a, b, w, shift: float):
    """Inside bin j: the positive set at the left edge and its changes, in ρ order.

    Returns (start (3,), r (k,), delta (k, 3)) with delta = ±w·(1, a, b) as samples enter or
    leave the positive set.
    """
    a, b, w, direction = _in_bin(j, a, b, w, shift)
    falling = direction < 0
    wf = w[falling]
    start = hist.fixed_in(j) + np.array([wf.sum(), dot(wf, a[falling]), dot(wf, b[falling])])
    r = -(a + shift) / b
    delta = (direction * w)[:, None] * np.column_stack([np.ones_like(a), a, b])
    return start, r, delta


def _pieces(j: int, per_role: list):
    """Merge every role's events in bin j into pieces where every positive set is fixed.

    Returns (lo, hi, state) with state (pieces, roles, 3) = (count, Σa, Σb) of each role.
    """
    r = np.concatenate([ev[1] for ev in per_role])
    order = np.argsort(r, kind="stable")
    bounds = np.concatenate([[EDGES[j]], np.clip(r[order], EDGES[j], EDGES[j + 1]), [EDGES[j + 1]]])
    states = []
    for k, (start, _, delta) in enumerate(per_role):
        full = np.zeros((len(r), 3))
        offset = sum(len(ev[1]) for ev in per_role[:k])
        full[offset:offset + len(delta)] = delta
        steps = np.cumsum(full[order], axis=0)
        states.append(start + np.vstack([np.zeros((1, 3)), steps]))
    return bounds[:-1], bounds[1:], np.stack(states, axis=1)


def _solve_star(lo, hi, state, totals):
    share = (totals[None, :, 0] - state[:, :, 0]) / totals[None, :, 0]
    worst = share.max(axis=1)
    width_ok = hi > lo
    worst = np.where(width_ok, worst, np.inf)
    k = int(np.argmin(worst))
    return float(worst[k]), float(0.5 * (lo[k] + hi[k]))


def _solve_plus(lo, hi, state, totals):
    pa, pb = state[:, :, 1], state[:, :, 2]
    sa, sb = totals[None, :, 1], totals[None, :, 2]
    points = [lo[:, None], hi[:, None]]
    roles = state.shape[1]
    for i in range(roles):
        for m in range(i + 1, roles):
            points.append(_crossings(pa[:, i], pb[:, i], sa[:, i], sb[:, i],
                                     pa[:, m], pb[:, m], sa[:, m], sb[:, m], lo, hi))
    rho = np.concatenate(points, axis=1)                       # (pieces, candidates)
    lam = _lambda(pa[:, :, None], pb[:, :, None], sa[:, :, None], sb[:, :, None], rho[:, None, :])
    value = np.where(np.isnan(rho), -np.inf, lam.min(axis=1))
    k = np.unravel_index(int(np.argmax(value)), value.shape)
    return float(value[k]), float(rho[k])


def _crossings(pa1, pb1, sa1, sb1, pa2, pb2, sa2, sb2, lo, hi):
    """ρ in (lo, hi) where P1/N1 = P2/N2, i.e. P1·N2 − P2·N1 = 0; NaN where none, (pieces, 2)."""
    na1, nb1, na2, nb2 = pa1 - sa1, pb1 - sb1, pa2 - sa2, pb2 - sb2
    c2 = pb1 * nb2 - pb2 * nb1
    c1 = pa1 * nb2 + pb1 * na2 - pa2 * nb1 - pb2 * na1
    c0 = pa1 * na2 - pa2 * na1
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = np.sqrt(np.maximum(c1 * c1 - 4 * c2 * c0, 0.0))
        quad = np.stack([(-c1 - disc) / (2 * c2), (-c1 + disc) / (2 * c2)], axis=1)
        lin = np.stack([-c0 / c1, np.full_like(c0, np.nan)], axis=1)
    roots = np.where(np.abs(c2)[:, None] > 1e-300, quad, lin)
    ok = (roots > lo[:, None]) & (roots < hi[:, None])
    return np.where(ok, roots, np.nan)


def optimise(objective: str, data: dict) -> tuple[float, float, bool]:
    """Exact sample optimum of M3* or M3+: (objective value, ρ, exact).

    ``exact`` is False only when more than MAX_REFINED_BINS bins could hold the optimum.
    """
    bins, best_value, best_rho = candidates(data, objective)
    exact = len(bins) < MAX_REFINED_BINS
    totals = np.stack([role.hist.total for role in data.values()])
    for j in bins:
        lo, hi, state = _pieces(j, [role.events(j) for role in data.values()])
        if objective == "M3*":
            value, rho = _solve_star(lo, hi, state, totals)
            better = value < best_value
        else:
            value, rho = _solve_plus(lo, hi, state, totals)
            better = value > best_value
        if better:
            best_value, best_rho = value, rho
    return best_value, best_rho, exact


class RoleBreakpoints:
    """Both passes' data for one role: the histogram and the gathered samples."""

    def __init__(self, tolerance: float) -> None:
        self.tolerance = float(tolerance)
        self.hist = Breakpoints()
        self._gathered: list = []
        self._joined = None

    def add(self, a: np.ndarray, b: np.ndarray, w: np.ndarray) -> None:
        """Pass 1: histogram one chunk."""
        self.hist.add(Breakpoints.of(a, b, w, self.tolerance))

    def gather(self, a: np.ndarray, b: np.ndarray, w: np.ndarray, bins: np.ndarray):
        """Pass 2: one chunk's samples that cross the loss line in ``bins``."""
        return collect(a, b, w, self.tolerance, bins)

    def add_hists(self, other: "RoleBreakpoints") -> None:
        self.hist.add(other.hist)

    def add_gathered(self, gathered) -> None:
        self._gathered.append(gathered)
        self._joined = None

    def gathered(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._joined is None:
            chunks = self._gathered or [(np.empty(0),) * 3]
            self._joined = tuple(np.concatenate(part) for part in zip(*chunks))
        return self._joined

    def events(self, j: int):
        return _events(j, self.hist, *self.gathered(), self.tolerance)

    def no_loss_set(self, rho: float) -> np.ndarray:
        """(count, Σa, Σb) of samples with a + tolerance + ρ·b > 0 (no loss), exactly.

        At a bin edge the histogram alone answers; inside bin j the gathered samples of j are
        needed (they are, for every ρ that ``optimise`` can return).
        """
        j = int(np.searchsorted(EDGES, rho, side="right") - 1)
        if j >= BINS or EDGES[j] == rho:
            return self.hist.at_edges()[min(j, BINS)]
        a, b, w, _ = _in_bin(j, *self.gathered(), self.tolerance)
        w = w * (a + self.tolerance + rho * b > 0)
        return self.hist.fixed_in(j) + np.array([w.sum(), dot(w, a), dot(w, b)])

    def sums_at_edges(self) -> np.ndarray:
        """The five statistics.FIELDS sums of M3 at every bin edge ρ = EDGES, (BINS + 1, 5)."""
        count, sa, sb = self.hist.total
        kept, ka, kb = self.hist.at_edges().T
        total = sa + EDGES * sb
        kept_sum = ka + EDGES * kb
        losses = count - kept
        lost = np.where(losses > 0, np.maximum(kept_sum - total, 0.0), 0.0)
        return np.column_stack([np.full_like(total, count), losses, total,
                                np.maximum(kept_sum, 0.0), lost])

    def sums(self, rho: float) -> list[float]:
        """The five statistics.FIELDS sums of M3 at ρ."""
        count, sa, sb = self.hist.total
        kept, ka, kb = self.no_loss_set(rho)
        total = sa + rho * sb
        kept_sum = ka + rho * kb
        losses = count - kept
        # The loss set is the complement; with no losses its sum is exactly zero, not the
        # rounding residue of the difference.
        lost = max(kept_sum - total, 0.0) if losses > 0 else 0.0
        return [count, losses, total, max(kept_sum, 0.0), lost]


def refine_bins(data: dict) -> np.ndarray:
    """Union of both objectives' candidate bins: what pass 2 must gather."""
    return np.union1d(candidates(data, "M3*")[0], candidates(data, "M3+")[0])
