"""Per-agent records of a replicate, bounded in memory.

Mesa's agent reporters build one dict per agent per round, which for N = 10⁴ over 10³ rounds
is 10⁷ dicts.  Instead the recorder keeps preallocated columns for the agents it follows —
all of them or an evenly spaced sample (agents are exchangeable: λ and rules are drawn at
random, so no random draw is needed and recording never changes the dynamics) — every
``every`` rounds and at the last round.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from agents.participant import ADAPTIVE

RECORD_MODES = ("none", "sample", "all")
MAX_AGENT_ROWS = 5_000_000           # per replicate: about 300 MB of columns at most
MAX_RUN_ROWS = 20_000_000            # over all replicates and mechanisms of one run


@dataclass(frozen=True)
class RecordSpec:
    agents: str = "sample"
    sample: int = 100
    every: int = 10

    def followed(self, population: int) -> int:
        return {"none": 0, "sample": min(self.sample, population), "all": population}[self.agents]

    def rows(self, population: int, rounds: int) -> int:
        recorded = rounds // self.every + (rounds % self.every != 0)   # as recorded_rounds
        return self.followed(population) * recorded


def recorded_rounds(every: int, rounds: int) -> np.ndarray:
    """Rounds 1..rounds that are recorded: every ``every``-th and the last."""
    return np.union1d(np.arange(every, rounds + 1, every), [rounds])


class AgentRecorder:
    COLUMNS = {"joined": bool, "cumulative_utility": float, "losses": np.int64,
               "markets": np.int64, "gain_estimate": float, "loss_estimate": float}
    ROLES = ("holder", "buyer", "rotating")

    def __init__(self, spec: RecordSpec, population: int, rounds: int) -> None:
        count = spec.followed(population)
        self.agents = np.unique(np.linspace(0, population - 1, count).round().astype(np.int64)) \
            if count else np.zeros(0, dtype=np.int64)
        self.rounds = recorded_rounds(spec.every, rounds) if count else np.zeros(0, dtype=np.int64)
        shape = (len(self.rounds), len(self.agents))
        self.data = {c: np.zeros(shape, dtype=self.COLUMNS[c]) for c in self.COLUMNS}
        self._next = 0

    def record(self, step: int, population) -> None:
        if self._next >= len(self.rounds) or self.rounds[self._next] != step:
            return
        k, who = self._next, self.agents
        self.data["joined"][k] = population.joined[who]
        self.data["cumulative_utility"][k] = population.cumulative[who]
        self.data["losses"][k] = population.losses[who]
        self.data["markets"][k] = population.markets[who]
        learns = population.rule[who] == ADAPTIVE          # rational agents estimate nothing
        self.data["gain_estimate"][k] = np.where(learns, population.beliefs.gain[who], np.nan)
        self.data["loss_estimate"][k] = np.where(learns, population.beliefs.loss[who], np.nan)
        self._next += 1

    def frame(self, population, role_codes: np.ndarray, rule_names) -> pd.DataFrame:
        """Tidy rows (round, agent, λ, rule, role, ...), one per followed agent and round;
        ``role_codes`` index ROLES."""
        done = self._next
        reps = len(self.agents)
        who = np.tile(self.agents, done)
        out = pd.DataFrame({
            "round": np.repeat(self.rounds[:done], reps),
            "agent": who,
            "lam": population.lam[who],
            # Categories fixed in advance, so replicates concatenate without copying strings.
            "rule": pd.Categorical.from_codes(population.rule[who], categories=list(rule_names)),
            "role": pd.Categorical.from_codes(role_codes[who], categories=list(self.ROLES)),
        })
        for c in self.COLUMNS:
            out[c] = self.data[c][:done].ravel()
        return out
