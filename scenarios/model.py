"""The participation model (Mesa 3): a population of N agents, markets of n, one Center.

One round (``step``):

1. the Center offers its mechanism to everybody;
2. adaptive agents choose from their own estimates (or re-try after staying out); rational
   agents then best-respond in random order until a sweep changes nothing (agents/best_response);
3. the Center matches the members at random into markets of n (center/matching) and runs
   those whose size its own λ allows;
4. types are drawn for everybody and reported truthfully; every market that runs pays;
5. adaptive agents learn from what they got; the DataCollector records the round and a
   sample of agents is recorded (scenarios/records.py).

Everything per agent is a numpy column over the AgentSet (agents/participant.Population), so a
round costs a few vectorised passes over N whatever the rule mix.
"""

from __future__ import annotations

import mesa
import numpy as np

from agents.best_response import MAX_SWEEPS, Offer, settle
from agents.learning import Beliefs
from agents.participant import ADAPTIVE, RULES, Center, Participant, Population
from agents.population import assign_shares, draw_lambdas
from center.adaptive import AdaptiveM3, mixed_threshold
from center.matching import form_markets
from center.mechanisms import FIXED, M3, TUNED
from center.trade import TradeSetting
from scenarios.records import AgentRecorder

ROUND_REPORTERS = {name: name for name in (
    "participants", "participation_rate", "holder_participation", "adaptive_participation",
    "markets", "markets_run", "center_ran", "welfare", "first_best_welfare", "efficiency", "revenue",
    "deficit", "deficit_markets", "participants_with_loss", "left", "reentered",
    "hot_stove_out", "hot_stove_share", "fixed_point_sweeps", "fixed_point_changes", "unravelled")}


class ParticipationModel(mesa.Model):
    """Participation dynamics of one replicate.

    ``spec`` is a scenarios.spec.SimulationSpec; ``table`` the threshold table of
    ``mechanism`` (scenarios/thresholds.py) for sizes 2..market_size.  ``lambdas`` overrides
    the drawn λ (tests).
    """

    def __init__(self, spec, mechanism, table: dict, holder_prior, buyer_prior,
                 rng: np.random.Generator, lambdas=None) -> None:
        super().__init__(rng=rng)
        self.spec, self.n, self.rotating = spec, spec.market_size, spec.roles == "rotating"
        self.holder_prior, self.buyer_prior = holder_prior, buyer_prior
        size = spec.agents
        lam = draw_lambdas(spec.lambdas, size, self.rng) if lambdas is None else np.asarray(lambdas, float)
        codes = np.array([RULES.index(name) for name, _ in spec.rules])
        rule = codes[assign_shares(spec.rules, size, self.rng)]
        is_holder = np.zeros(size, dtype=bool)
        if not self.rotating:
            is_holder[:spec.holders] = True            # agents 0..H−1 hold (λ are i.i.d.)
        self.population = Population(lam, rule, is_holder, Beliefs(spec.adaptive, size))
        for k in range(size):
            Participant(self, k)
        self.center = Center(self, spec.center_lambda, _label(mechanism), table,
                             *_rules_by_size(mechanism, table, holder_prior, buyer_prior))
        self.offer = _offer(table, self.n, self.rotating, self.center.runs)
        self.tolerance = TradeSetting(2, holder_prior, buyer_prior).loss_tolerance
        self.full_market_threshold = self._full_market_threshold()
        self.recorder = AgentRecorder(spec.records, size, spec.rounds)
        self.datacollector = mesa.DataCollector(model_reporters=ROUND_REPORTERS)

    def _full_market_threshold(self) -> np.ndarray:
        """λ* each agent's role has in a full market: a rational agent with its λ would join
        iff λ ≤ this (and the Center runs); the hot-stove count compares against it."""
        o, n = self.offer, self.n
        if self.rotating:
            return np.full(self.spec.agents, o.mixed[n])
        return np.where(self.population.is_holder, o.holder[n], o.buyer[n])

    # --- one round ---------------------------------------------------------------------

    def step(self) -> None:
        pop = self.population
        before = pop.joined.copy()            # round 1: the offer, everybody in
        was_in = before if self.steps > 1 else np.zeros_like(before)
        adaptive = pop.adaptive
        pop.joined[adaptive] = pop.beliefs.intend(adaptive, pop.lam[adaptive], before[adaptive],
                                                  self.rng)
        self.fixed_point_sweeps, self.fixed_point_changes = settle(
            self.offer, pop.lam, pop.is_holder, pop.joined, pop.rational, self.rng)
        order = self.rng.permutation(self.spec.agents)
        theta_h = self.holder_prior.sample(self.rng, self.spec.agents)
        theta_b = self.buyer_prior.sample(self.rng, self.spec.agents)
        roles = None if self.rotating else pop.is_holder
        markets = form_markets(order, pop.joined, roles, self.n)
        everyone = form_markets(order, np.ones_like(pop.joined), roles, self.n)
        self.first_best_welfare = sum(_welfare(m, theta_h, theta_b) for m in everyone)
        utility = self._pay(markets, theta_h, theta_b)
        self._book(was_in, markets, utility)
        self.datacollector.collect(self)
        self.recorder.record(self.steps, pop)

    def _pay(self, markets, theta_h, theta_b) -> np.ndarray:
        """Run every market the Center is willing to run; utilities (N,), 0 when out."""
        utility = np.zeros(self.spec.agents)
        self.welfare = self.revenue = self.deficit = 0.0
        self.deficit_markets = self.markets_run = self.participants_with_loss = 0
        for members in markets:                   # at most two sizes: n and the remainder
            if not self.center.willing(members.shape[1]):
                continue
            reports = np.column_stack([theta_h[members[:, 0]], theta_b[members[:, 1:]]])
            outcome = self.center.run_market(reports)
            utility[members.ravel()] = outcome.utility.ravel()
            self.welfare += float(_welfare(members, theta_h, theta_b))
            self.revenue += float(outcome.revenue.sum())
            self.deficit += float(-outcome.revenue[outcome.revenue < 0].sum())
            self.deficit_markets += int(np.count_nonzero(outcome.revenue < 0))
            self.markets_run += len(members)
            self.participants_with_loss += int(np.count_nonzero(outcome.utility < -self.tolerance))
            played = members.ravel()
            self.population.markets[played] += 1
            learners = played[self.population.rule[played] == ADAPTIVE]
            self.population.beliefs.update(learners, utility[learners])
        return utility

    def _book(self, was_in, markets, utility) -> None:
        """Totals of the round; ``was_in``: members of the previous round (none before 1)."""
        pop = self.population
        pop.cumulative += utility
        pop.losses += utility < -self.tolerance
        left = was_in & ~pop.joined
        self.left = int(np.count_nonzero(left))
        self.reentered = int(np.count_nonzero(~was_in & pop.joined & pop.has_left))
        pop.has_left |= left
        self.markets = sum(len(m) for m in markets)
        self.center_ran = self.markets_run > 0
        self.unravelled = self.markets == 0
        adaptive = pop.adaptive
        would = (pop.lam[adaptive] <= self.full_market_threshold[adaptive]) & self.offer.center_runs[self.n]
        self.hot_stove_out = int(np.count_nonzero(would & ~pop.joined[adaptive]))
        self.hot_stove_share = self.hot_stove_out / len(adaptive) if len(adaptive) else float("nan")

    def agent_frame(self):
        """The recorded agents' rows (scenarios/records.py)."""
        if self.rotating:
            roles = np.full(self.spec.agents, AgentRecorder.ROLES.index("rotating"))
        else:
            roles = np.where(self.population.is_holder, 0, 1)      # holder, buyer
        return self.recorder.frame(self.population, roles, RULES)

    # --- what the DataCollector reads --------------------------------------------------

    @property
    def participants(self) -> int:
        return int(np.count_nonzero(self.population.joined))

    @property
    def participation_rate(self) -> float:
        return self.participants / self.spec.agents

    @property
    def holder_participation(self) -> float:
        """Share of holders who joined (NaN when roles rotate)."""
        if self.rotating:
            return float("nan")
        return float(self.population.joined[:self.spec.holders].mean())

    @property
    def efficiency(self) -> float:
        """Realised over first-best welfare this round (NaN when no trade was possible)."""
        return self.welfare / self.first_best_welfare if self.first_best_welfare > 0 else float("nan")

    @property
    def adaptive_participation(self) -> float:
        adaptive = self.population.adaptive
        return float(self.population.joined[adaptive].mean()) if len(adaptive) else float("nan")


def _welfare(members: np.ndarray, theta_h, theta_b) -> float:
    """Σ over markets of max(0, best buyer value − holder value)."""
    best = theta_b[members[:, 1:]].max(axis=1)
    return float(np.maximum(best - theta_h[members[:, 0]], 0.0).sum())


def _label(mechanism) -> str:
    return mechanism if isinstance(mechanism, str) else mechanism.label


def _rules_by_size(mechanism, table: dict, holder_prior, buyer_prior):
    """The transfer rule and the setting for every market size in the table."""
    rules, settings = {}, {}
    for size, entry in table.items():
        if isinstance(mechanism, M3):
            rules[size] = mechanism
        elif mechanism in TUNED or isinstance(mechanism, AdaptiveM3):
            rules[size] = M3(entry["rho"])
        else:
            rules[size] = FIXED[mechanism]()
        settings[size] = TradeSetting(size, holder_prior, buyer_prior)
    return rules, settings


def _offer(table: dict, n: int, rotating: bool, center_runs: np.ndarray) -> Offer:
    """λ* by market size 0..n as arrays; sizes below 2 never form a market."""
    def column(get):
        return np.array([get(s, table[s]) if s >= 2 else -np.inf for s in range(n + 1)])

    def mixed(s, e):
        g, l = e["gain"], e["loss"]
        return float(mixed_threshold(g["holder"], l["holder"], g["buyer"], l["buyer"], s))

    return Offer(n, rotating, column(lambda s, e: e["holder"]), column(lambda s, e: e["buyer"]),
                 column(mixed), center_runs)


__all__ = ["MAX_SWEEPS", "ParticipationModel", "ROUND_REPORTERS"]
