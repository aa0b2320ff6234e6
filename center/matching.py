"""Markets of size n formed by random matching among the agents who joined.

The Center draws one permutation of the whole population per round; members are taken in that
order.  With fixed roles each market is one holder and n − 1 buyers; with rotating roles
consecutive groups of n, the first of each group holding the item.  What is left forms one
smaller market if it can trade (a holder and a buyer); the rest sit the round out.  So a
population that is one market (N = n) trades among whoever joined.

Using the same permutation with everybody in gives the first-best benchmark of the round.  With
N > n the joiners' markets are grouped differently from the benchmark's, so one round can beat
it by luck; in expectation it cannot (types are i.i.d. and drawn after the choices, and there
are no more markets than with everybody in).
"""

from __future__ import annotations

import numpy as np


def form_markets(order: np.ndarray, joined: np.ndarray, is_holder: np.ndarray | None,
                 n: int) -> list[np.ndarray]:
    """Member indices per market, grouped by size: arrays (markets, size), holder in column 0.

    ``is_holder`` is None when roles rotate.
    """
    members = order[joined[order]]
    if is_holder is None:
        full = len(members) // n
        groups = [members[:full * n].reshape(full, n)]
        rest = members[full * n:]
    else:
        holders = members[is_holder[members]]
        buyers = members[~is_holder[members]]
        full = min(len(holders), len(buyers) // (n - 1))
        groups = [np.column_stack([holders[:full], buyers[:full * (n - 1)].reshape(full, n - 1)])]
        left = buyers[full * (n - 1):]
        rest = np.concatenate([holders[full:full + 1], left]) if len(holders) > full else left[:0]
    if len(rest) >= 2:
        groups.append(rest[None, :])
    return [g for g in groups if len(g)]
