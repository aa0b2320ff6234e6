"""Participation simulations: replicates of the Mesa model, one pure worker per replicate.

Replicate k of mechanism cell c runs on ``SeedSequence(seed, spawn_key=(c, k))``: it draws its
agents' λ, rules and every type from that one generator, so its rows are the same on any
executor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from agents.population import lambda_cdf
from center.adaptive import AdaptiveM3
from scenarios.thresholds import threshold_table

SIMULATION_STREAM = 2**31     # above any replicate or population size


@dataclass(frozen=True)
class ReplicateTask:
    mechanism: object          # a name from MECHANISM_NAMES, an M3 or an AdaptiveM3
    cell: int
    replicate: int
    seed: int
    spec: object               # scenarios.spec.SimulationSpec
    holder_prior: object
    buyer_prior: object
    key: tuple = ()            # spawn-key prefix: (cell,) inside a sweep

    @property
    def spawn_key(self) -> tuple:
        # The tag keeps simulation streams apart from the study's (n, chunk) streams that
        # build the threshold tables: (2, 0) must not mean both.
        return (*self.key, SIMULATION_STREAM, self.cell, self.replicate)


@dataclass(frozen=True)
class ReplicateResult:
    rounds: pd.DataFrame       # one row per round
    agents: pd.DataFrame       # the recorded agents' rows (scenarios/records.py)


def mechanism_label(mechanism) -> str:
    return mechanism if isinstance(mechanism, str) else mechanism.label


def run_replicate(task: ReplicateTask, table: dict) -> ReplicateResult:
    """Every round of one replicate, and its per-agent records."""
    from scenarios.model import ParticipationModel   # Mesa is imported only where it is used

    rng = np.random.default_rng(np.random.SeedSequence(task.seed, spawn_key=task.spawn_key))
    model = ParticipationModel(task.spec, task.mechanism, table, task.holder_prior,
                               task.buyer_prior, rng)
    for _ in range(task.spec.rounds):
        model.step()
    tags = {"mechanism": mechanism_label(task.mechanism), "replicate": task.replicate}
    rounds = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    rounds.insert(0, "round", np.arange(1, len(rounds) + 1))
    rounds["seed_key"] = "/".join(map(str, (task.seed, *task.spawn_key)))
    agents = model.agent_frame()
    for frame in (rounds, agents):
        for k, (name, value) in enumerate(tags.items()):
            frame.insert(k, name, value)
    return ReplicateResult(rounds, agents)


def tables_for(spec, holder_prior, buyer_prior, seed: int, executor,
               progress: bool = False) -> dict:
    """Threshold tables, one per mechanism, for markets of 2..market_size members."""
    sizes = range(2, spec.market_size + 1)
    out = {}
    for m in spec.mechanisms:
        belief = (m.belief or spec.lambdas) if isinstance(m, AdaptiveM3) else spec.lambdas
        out[mechanism_label(m)] = threshold_table(
            m, sizes, holder_prior, buyer_prior, spec.threshold_profiles, seed, executor,
            center_lambda=spec.center_lambda, belief_cdf=lambda x, b=belief: lambda_cdf(b, x),
            rotating=spec.roles == "rotating", progress=progress)
    return out


def table_key(scenario) -> str:
    """What the threshold tables of a simulation scenario depend on: equal keys, equal tables."""
    spec = scenario.simulation
    return json.dumps([repr(scenario.holder_prior), repr(scenario.buyer_prior),
                       [repr(m) for m in spec.mechanisms], spec.market_size, spec.roles,
                       spec.center_lambda, spec.lambdas, spec.threshold_profiles, scenario.seed],
                      sort_keys=True, default=str)


def tasks_for(scenario, replicates=None, key: tuple = ()) -> list[ReplicateTask]:
    """Replicate tasks of every mechanism; ``replicates`` (a range) defaults to all."""
    spec = scenario.simulation
    replicates = range(spec.replicates) if replicates is None else replicates
    return [ReplicateTask(m, cell, k, scenario.seed, spec, scenario.holder_prior,
                          scenario.buyer_prior, key)
            for cell, m in enumerate(spec.mechanisms) for k in replicates]
