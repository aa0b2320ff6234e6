"""AGV's expected externality ξ_i(θ_i) in single-item trade, for any independent priors.

ξ_i(t) is the others' expected value at the efficient outcome when i has type t.  With M the
highest of the n − 1 buyer values, M' the highest of the other n − 2 buyers (M' = −∞ if there is
none) and F_M, F_M' their CDFs (powers of the buyer CDF):

    holder  ξ_h(t) = E[M · 1{M > t}]
                   = B − t·F_M(t) − ∫_t^B F_M                      (by parts)
    buyer   ξ_b(t) = −E[θ_h · 1{θ_h < t, M' < t}] + E[(M' − θ_h)^+ · 1{M' > t}]
                   = −F_M'(t)·(t F_h(t) − G_h(t)) + G_h(B) − G_h(t) F_M'(t) − ∫_t^B F_M' F_h

where B is the top of the buyer support and G_h(t) = E[(t − θ_h)^+].  Both derivatives are
closed forms, ξ_h' = −t f_M(t) and ξ_b' = −t (F_M' F_h)'(t), so each ξ is tabulated once per
setting on a uniform grid with Gauss–Legendre integrals and evaluated by cubic Hermite
interpolation (error far below the loss tolerance where the two supports coincide, as in the
paper; a support end inside the other support is a kink, interpolated to about 1e-7).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from center.priors import Prior

GRID_POINTS = 2049
OTHER_POINTS = 513
GAUSS_NODES = 16


def trade_externality_tables(n: int, holder: Prior, buyer: Prior):
    """Return (ξ_holder, ξ_buyer): vectorised callables of the agent's own type."""
    others = n - 1            # buyers the holder faces
    rivals = n - 2            # other buyers a buyer faces
    lo, hi = buyer.low, buyer.high

    def cdf_max(k: int, x):
        return buyer.cdf(x) ** k if k > 0 else np.ones_like(np.asarray(x, float))

    def pdf_max(k: int, x):
        if k == 0:
            return np.zeros_like(np.asarray(x, float))
        return k * buyer.cdf(x) ** (k - 1) * buyer.pdf(x)

    def holder_xi(t):
        tc = np.clip(t, lo, hi)
        return hi - tc * cdf_max(others, tc) - _integral_to(lambda x: cdf_max(others, x), tc, hi)

    def holder_slope(t):
        return -t * pdf_max(others, t)

    def buyer_xi(t):
        tc = np.clip(t, lo, hi)
        won = -cdf_max(rivals, t) * (t * holder.cdf(t) - holder.below(t))
        if rivals == 0:
            return won
        lost = holder.below(hi) - holder.below(tc) * cdf_max(rivals, tc) - _integral_to(
            lambda x: cdf_max(rivals, x) * holder.cdf(x), tc, hi)
        return won + lost

    def buyer_slope(t):
        return -t * (pdf_max(rivals, t) * holder.cdf(t) + cdf_max(rivals, t) * holder.pdf(t))

    return (_hermite_table(holder_xi, holder_slope, holder, buyer),
            _hermite_table(buyer_xi, buyer_slope, buyer, holder))


def _integral_to(g: Callable, t: np.ndarray, upper: float) -> np.ndarray:
    """∫_{t_k}^{upper} g for an ascending array t ≤ upper, by composite Gauss–Legendre."""
    edges = np.append(t, upper)
    nodes, weights = np.polynomial.legendre.leggauss(GAUSS_NODES)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    cells = (g(mid[:, None] + half[:, None] * nodes) * weights).sum(axis=1) * half
    return np.cumsum(cells[::-1])[::-1]


def _grid(own: Prior, other: Prior) -> np.ndarray:
    """Nodes over ``own``'s support: uniform over the part that holds its mass, denser where
    the other role's mass sits, so that a narrow prior's steep CDF is resolved too."""
    lo, hi = own.core
    grid = [np.linspace(lo, hi, GRID_POINTS), [own.low, own.high]]
    olo, ohi = max(other.core[0], own.low), min(other.core[1], own.high)
    if olo < ohi and (olo, ohi) != (lo, hi):
        grid.append(np.linspace(olo, ohi, OTHER_POINTS))
    return np.unique(np.concatenate(grid))


def _hermite_table(f: Callable, slope: Callable, own: Prior, other: Prior) -> Callable:
    """Tabulate f over ``own``'s support (see ``_grid``); evaluate its cubic Hermite pieces.

    Each cell's cubic is stored as Horner coefficients in the local coordinate s ∈ [0, 1].
    On a uniform grid the cell is found by arithmetic, otherwise by binary search.
    """
    grid = _grid(own, other)
    step = np.diff(grid)
    y = f(grid)
    dy = np.diff(y)
    # One-sided slopes, taken just inside each cell: at a kink (a support end) the two
    # neighbouring cells see their own side's slope.
    inside = 1e-9 * step
    c0 = y[:-1]
    c1 = slope(grid[:-1] + inside) * step
    right = slope(grid[1:] - inside) * step
    c2 = 3 * dy - 2 * c1 - right
    c3 = -2 * dy + c1 + right
    uniform = np.allclose(step, step[0], rtol=1e-9, atol=0)
    low, high, cells = grid[0], grid[-1], len(grid) - 1

    def locate(t):
        if uniform:
            u = (t - low) * (1.0 / step[0])
            k = np.minimum(u.astype(np.intp), cells - 1)
            return k, u - k
        k = np.clip(np.searchsorted(grid, t, side="right") - 1, 0, cells - 1)
        return k, (t - grid[k]) / step[k]

    def interpolate(t):
        t = np.asarray(t, float)
        if t.ndim > 1:    # work on the memory order the array has (column-major batches)
            order = "F" if t.flags.f_contiguous and not t.flags.c_contiguous else "C"
            return interpolate(t.ravel(order=order)).reshape(t.shape, order=order)
        k, s = locate(np.clip(t, low, high))
        out = np.take(c3, k)
        out *= s
        out += np.take(c2, k)
        out *= s
        out += np.take(c1, k)
        out *= s
        out += np.take(c0, k)
        return out

    return interpolate
