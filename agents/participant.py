"""The Mesa agents: loss-averse Participants and the Center that runs the markets.

The population's state lives in columns (``Population``: one numpy array per attribute, agent
k in row k) so that decisions and payments are vectorised over the whole AgentSet; every
``Participant`` is a Mesa agent that reads and writes its own row.  That keeps Mesa's API
(``model.agents``, ``select``, ``agg``, per-agent inspection) and costs nothing per round.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mesa
import numpy as np

from agents.learning import Beliefs

RULES = ("rational", "adaptive")
RATIONAL, ADAPTIVE = 0, 1


@dataclass
class Population:
    """Per-agent columns, shape (N,)."""

    lam: np.ndarray
    rule: np.ndarray                 # index into RULES
    is_holder: np.ndarray            # fixed roles; all False when roles rotate
    beliefs: Beliefs
    joined: np.ndarray = field(init=False)
    has_left: np.ndarray = field(init=False)
    cumulative: np.ndarray = field(init=False)
    losses: np.ndarray = field(init=False)
    markets: np.ndarray = field(init=False)   # markets that ran with the agent in

    def __post_init__(self) -> None:
        size = len(self.lam)
        self.joined = np.ones(size, dtype=bool)      # the Center offers to all; choices prune
        self.has_left = np.zeros(size, dtype=bool)
        self.cumulative = np.zeros(size)
        self.losses = np.zeros(size, dtype=np.int64)
        self.markets = np.zeros(size, dtype=np.int64)

    @property
    def rational(self) -> np.ndarray:
        return np.flatnonzero(self.rule == RATIONAL)

    @property
    def adaptive(self) -> np.ndarray:
        return np.flatnonzero(self.rule == ADAPTIVE)


class Participant(mesa.Agent):
    """One agent of the population: a view on row ``index`` of ``model.population``."""

    def __init__(self, model: mesa.Model, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def _columns(self) -> Population:
        return self.model.population

    @property
    def lam(self) -> float:
        return float(self._columns.lam[self.index])

    @property
    def rule(self) -> str:
        return RULES[self._columns.rule[self.index]]

    @property
    def role(self) -> str:
        if self.model.rotating:
            return "rotating"
        return "holder" if self._columns.is_holder[self.index] else "buyer"

    @property
    def joined(self) -> bool:
        return bool(self._columns.joined[self.index])

    @property
    def cumulative_utility(self) -> float:
        return float(self._columns.cumulative[self.index])

    @property
    def losses(self) -> int:
        return int(self._columns.losses[self.index])

    @property
    def estimates(self) -> tuple[float, float]:
        """(Ê[x⁺], Ê[x⁻]) of an adaptive agent."""
        b = self._columns.beliefs
        return float(b.gain[self.index]), float(b.loss[self.index])


class Center(mesa.Agent):
    """Holds the mechanism and its own λ; runs a market of size s only if λ_c ≤ λ*_c(s).

    ``mechanisms[s]`` is the concrete transfer rule for size s (M3 with the ρ re-tuned for s
    when the mechanism is tuned) and ``settings[s]`` the trade setting, built once.
    """

    def __init__(self, model: mesa.Model, lam: float, label: str, table: dict,
                 mechanisms: dict, settings: dict) -> None:
        super().__init__(model)
        self.lam = float(lam)
        self.label = label
        self.table = table
        self.mechanisms, self.settings = mechanisms, settings
        self.runs = np.array([size >= 2 and self.lam <= table[size]["center"]
                              for size in range(max(table) + 1)], dtype=bool)

    def willing(self, size: int) -> bool:
        return bool(self.runs[size])

    def run_market(self, reports: np.ndarray):
        """Run the mechanism on truthful reports (markets, size); returns its Outcome."""
        size = reports.shape[1]
        return self.mechanisms[size].run(self.settings[size].batch(reports))
