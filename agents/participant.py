"""The Mesa agents: loss-averse Participants and the Center that runs the mechanism.

Both are thin: what a role expects from a market of size n comes from the static study's
threshold table (scenarios/thresholds.py); the payments come from center/.
"""

from __future__ import annotations

import mesa
import numpy as np

from agents.preferences import joins


class Participant(mesa.Agent):
    """An agent with its own loss-aversion coefficient λ and a role (holder or buyer).

    It decides ex ante, before its type is drawn, whether to join: it joins iff the market
    that would result can trade (holder present, at least two members, and a Center willing
    to run it) and λ ≤ λ* of its role for that market's size.
    """

    def __init__(self, model: mesa.Model, lam: float, role: str) -> None:
        super().__init__(model)
        self.lam = float(lam)
        self.role = role
        self.joined = True           # the Center offers to all; best responses prune
        self.value = 0.0              # this round's type
        self.utility = 0.0            # this round's value plus transfer (0 when out)
        self.cumulative_utility = 0.0
        self.losses = 0

    def wants_to_join(self) -> bool:
        size = self.model.market_size(without=self) + 1
        holder_in = self.role == "holder" or self.model.holder.joined
        if not holder_in or size < 2 or not self.model.center.willing(size, holder_in=True):
            return False
        return bool(joins(self.lam, self.model.thresholds[size][self.role]))

    def decide(self) -> None:
        choice = self.wants_to_join()
        if choice != self.joined:
            self.joined = choice
            self.model.changes += 1

    def settle(self, utility: float, tolerance: float) -> None:
        """Book this round's outcome (0 if the agent stayed out or no trade ran)."""
        self.utility = float(utility)
        self.cumulative_utility += self.utility
        self.losses += int(self.utility < -tolerance)


class Center(mesa.Agent):
    """Holds the mechanism and its own λ; runs the market only if its λ allows."""

    def __init__(self, model: mesa.Model, lam: float, mechanism_name: str) -> None:
        super().__init__(model)
        self.lam = float(lam)
        self.mechanism_name = mechanism_name
        self.revenue = 0.0
        self.ran = False

    def willing(self, size: int, holder_in: bool | None = None) -> bool:
        """Would the Center run a market of ``size`` members (holder in, unless told)?"""
        holder_in = self.model.holder.joined if holder_in is None else holder_in
        if size < 2 or not holder_in:
            return False
        return bool(joins(self.lam, self.model.thresholds[size]["center"]))

    def run_market(self, members: list[Participant]) -> np.ndarray:
        """Run the mechanism on the members' truthful reports; returns their utilities."""
        self.ran = self.willing(len(members))
        if not self.ran:
            self.revenue = 0.0
            return np.zeros(len(members))
        outcome = self.model.run_mechanism(self.mechanism_name, members)
        self.revenue = float(outcome.revenue[0])
        return outcome.utility[0]
