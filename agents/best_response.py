"""Rational participation: sequential best responses to a fixed point, vectorised.

A rational agent knows the prior and the mechanism.  Before types are drawn it joins iff the
market it would be part of can run and λ ≤ λ* of its role there:

- fixed roles: a holder expects a market of itself and min(n − 1, B) buyers (B: the buyers
  who are in) and needs one buyer; a buyer expects min(n, B_others + 2) members (itself, the
  other buyers, a holder) and needs a holder in;
- rotating roles: the market has min(n, J_others + 1) members and each is the holder with
  probability 1/size, so its λ* is the mixed one, Σ E[x⁺] / Σ E[x⁻] over the roles;
- in both, the Center must be willing to run a market of that size.

This is exact when the population is one market (N = n) and is the full market of n otherwise
(being left unmatched scales gains and losses alike, so it does not move λ*).

One agent's choice changes the others' market sizes, so choices are settled as in a Mesa
``shuffle_do`` of ``decide``: sweeps over the rational agents in a fresh random order, each
best-responding to the current state, until a sweep changes nothing.  Vectorised: desires are
evaluated for every agent still to move in the sweep, and the movers are applied in order in
one block as long as the state stays in the same *view class*: every desire depends on the
state only through (min(H, 1), min(B, n + 1)) — whether a holder is in, and the buyers up to
one more than a full market — so within a class nobody's desire can change.  When a move
changes the class, the rest of the sweep is re-evaluated.  Re-evaluations are thus bounded by
about n + 2 per sweep, whatever N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_SWEEPS = 100


@dataclass(frozen=True)
class Offer:
    """What a rational agent knows, by market size s = 0..n (arrays of length n + 1)."""

    market_size: int
    rotating: bool
    holder: np.ndarray           # λ* of the holder
    buyer: np.ndarray            # λ* of a buyer
    mixed: np.ndarray            # λ* when roles rotate
    center_runs: np.ndarray      # does the Center run a market of size s (bool)


def desire(offer: Offer, lam, is_holder, joined, holders_in: int, buyers_in: int) -> np.ndarray:
    """Best response of agents (λ, role, own choice) to ``holders_in``/``buyers_in`` members.

    With rotating roles every member counts as a buyer and ``is_holder`` is all false.
    """
    n = offer.market_size
    buyers_others = buyers_in - (joined & ~is_holder)
    if offer.rotating:
        size = np.minimum(n, buyers_others + 1)
        feasible = size >= 2
        limit = offer.mixed[size]
    else:
        holders_others = holders_in - (joined & is_holder)
        size = np.where(is_holder, 1 + np.minimum(n - 1, buyers_others),
                        np.minimum(n, buyers_others + 2))
        feasible = np.where(is_holder, buyers_others >= 1, holders_others >= 1)
        limit = np.where(is_holder, offer.holder[size], offer.buyer[size])
    return feasible & offer.center_runs[size] & (lam <= limit)


def view_class(offer: Offer, holders_in, buyers_in) -> np.ndarray:
    """One integer per state; states of one class give every agent the same desire.

    Buyers see min(n, B_others + 2) members and need H ≥ 1; holders see 1 + min(n − 1,
    B_others); with rotating roles min(n, B_others + 1).  B_others is B or B − 1, so B matters
    only up to n + 1, and H only as H ≥ 1 (with rotating roles H is always 0).
    """
    n = offer.market_size
    return np.minimum(holders_in, 1) * (n + 2) + np.minimum(buyers_in, n + 1)


def settle(offer: Offer, lam, is_holder, joined, rational: np.ndarray, rng) -> tuple[int, int]:
    """Move ``joined`` (in place) to a fixed point of the rational agents' best responses.

    ``rational`` lists the agents who best-respond; the others' choices are taken as given.
    Returns (sweeps, changes); sweeps is MAX_SWEEPS + 1 if no fixed point was reached.
    """
    changes = 0
    for sweep in range(1, MAX_SWEEPS + 1):
        moved = _sweep(offer, lam, is_holder, joined, rng.permutation(rational))
        changes += moved
        if moved == 0:
            return sweep, changes
    return MAX_SWEEPS + 1, changes


def _sweep(offer, lam, is_holder, joined, order: np.ndarray) -> int:
    """One pass over ``order``; returns the number of agents who changed their choice."""
    holders_in = int(np.count_nonzero(joined & is_holder))
    buyers_in = int(np.count_nonzero(joined & ~is_holder))
    pos = moved = 0
    while pos < len(order):
        rest = order[pos:]
        want = desire(offer, lam[rest], is_holder[rest], joined[rest], holders_in, buyers_in)
        movers = np.flatnonzero(want != joined[rest])
        if len(movers) == 0:
            break
        agents = rest[movers]
        step = np.where(joined[agents], -1, 1)          # leaving or joining
        h = holders_in + np.cumsum(step * is_holder[agents])
        b = buyers_in + np.cumsum(step * ~is_holder[agents])
        # Apply movers while the state after them stays in the class their desires were
        # evaluated in, and the first move that leaves it (it was decided in that class).
        off = np.flatnonzero(view_class(offer, h, b) != view_class(offer, holders_in, buyers_in))
        take = len(agents) if len(off) == 0 else int(off[0]) + 1
        joined[agents[:take]] = ~joined[agents[:take]]
        holders_in, buyers_in = int(h[take - 1]), int(b[take - 1])
        moved += take
        pos += int(movers[take - 1]) + 1
    return moved
