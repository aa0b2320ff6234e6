"""The participation model (Mesa 3): each round agents join ex ante, the Center runs a market.

One round (``step``):

1. the Center offers its mechanism;
2. every Participant, before its type is drawn, decides whether to join, given who else is in
   (sequential best responses in random order until a full sweep changes nothing);
3. the Center runs only if its own λ allows (λ_c ≤ λ* of the center for that market);
4. types are drawn for everybody and reported truthfully;
5. the mechanism runs among the participants; the DataCollector records the round.
"""

from __future__ import annotations

import mesa
import numpy as np

from agents.participant import Center, Participant
from center.mechanisms import FIXED, M3, TUNED
from center.trade import TradeSetting

MAX_SWEEPS = 100
ROUND_REPORTERS = {
    "participants": "participants",
    "participation_rate": "participation_rate",
    "holder_joined": "holder_joined",
    "center_ran": "center_ran",
    "welfare": "welfare",
    "first_best_welfare": "first_best_welfare",
    "revenue": "revenue",
    "deficit": "deficit",
    "participants_with_loss": "participants_with_loss",
    "fixed_point_sweeps": "sweeps",
}


class ParticipationModel(mesa.Model):
    """Holder + buyers with individual λ, a Center with mechanism ``mechanism``.

    ``thresholds[n]`` maps 'holder', 'buyer', 'center' to λ* and 'rho' to the tuned ρ (or
    None) for a market of n members (scenarios/thresholds.py).
    """

    def __init__(self, lambdas, center_lambda: float, mechanism: str, holder_prior,
                 buyer_prior, thresholds: dict, rng: np.random.Generator) -> None:
        super().__init__(rng=rng)
        self.holder_prior, self.buyer_prior = holder_prior, buyer_prior
        self.thresholds = thresholds
        self.holder = Participant(self, lambdas[0], "holder")
        self.buyers = [Participant(self, lam, "buyer") for lam in lambdas[1:]]
        self.center = Center(self, center_lambda, mechanism)
        self.tolerance = TradeSetting(2, holder_prior, buyer_prior).loss_tolerance
        self.changes = 0
        self.sweeps = 0
        self._reset_round()
        self.datacollector = mesa.DataCollector(model_reporters=ROUND_REPORTERS)

    @property
    def participants_set(self) -> mesa.agent.AgentSet:
        return self.agents_by_type[Participant]

    def market_size(self, without=None) -> int:
        return sum(1 for a in self.participants_set if a.joined and a is not without)

    def _reset_round(self) -> None:
        self.welfare = self.first_best_welfare = self.revenue = self.deficit = 0.0
        self.participants_with_loss = 0

    def settle_participation(self) -> int:
        """Best responses in random order until nobody wants to change; returns sweeps."""
        for sweep in range(1, MAX_SWEEPS + 1):
            self.changes = 0
            self.participants_set.shuffle_do("decide")
            if self.changes == 0:
                return sweep
        return MAX_SWEEPS

    def run_mechanism(self, name: str, members: list[Participant]):
        setting = TradeSetting(len(members), self.holder_prior, self.buyer_prior)
        batch = setting.batch(np.array([[m.value for m in members]]))
        if isinstance(name, M3):
            mechanism = name
        elif name in TUNED:
            mechanism = M3(self.thresholds[len(members)]["rho"])
        else:
            mechanism = FIXED[name]()
        return mechanism.run(batch)

    def step(self) -> None:
        self._reset_round()
        self.sweeps = self.settle_participation()
        everyone = [self.holder] + self.buyers
        self.holder.value = float(self.holder_prior.sample(self.rng, 1)[0])
        values = self.buyer_prior.sample(self.rng, len(self.buyers))
        for agent, v in zip(self.buyers, values):
            agent.value = float(v)
        members = [a for a in everyone if a.joined]
        utilities = self.center.run_market(members) if members else np.zeros(0)
        earned = dict(zip(members, utilities))
        for agent in everyone:
            agent.settle(earned.get(agent, 0.0), self.tolerance)
        self._book(members, utilities)
        self.datacollector.collect(self)

    def _book(self, members, utilities) -> None:
        best = max(a.value for a in self.buyers) - self.holder.value
        self.first_best_welfare = max(best, 0.0)
        if self.center.ran:
            buyers_in = [a.value for a in members[1:]]
            self.welfare = max(max(buyers_in) - self.holder.value, 0.0)
        self.revenue = self.center.revenue
        self.deficit = -self.revenue if self.revenue < 0 else 0.0
        self.participants_with_loss = int(np.count_nonzero(utilities < -self.tolerance))

    @property
    def participants(self) -> int:
        return sum(1 for a in self.participants_set if a.joined)

    @property
    def participation_rate(self) -> float:
        return self.participants / (1 + len(self.buyers))

    @property
    def holder_joined(self) -> bool:
        return self.holder.joined

    @property
    def center_ran(self) -> bool:
        return self.center.ran
