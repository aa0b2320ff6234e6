"""Participation simulations: replicates of the Mesa model, one pure worker per replicate.

Replicate k of mechanism cell c runs on ``SeedSequence(seed, spawn_key=(c, k))``: it draws its
agents' λ and every type from that one generator, so its rows are the same on any executor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.population import draw_lambdas
from scenarios.thresholds import threshold_table


SIMULATION_STREAM = 2**31     # above any replicate or population size


@dataclass(frozen=True)
class ReplicateTask:
    mechanism: object          # a name from MECHANISM_NAMES or an M3 instance
    cell: int
    replicate: int
    seed: int
    agents: int
    lambdas: dict
    center_lambda: float
    rounds: int
    holder_prior: object
    buyer_prior: object
    key: tuple = ()            # spawn-key prefix: (cell,) inside a sweep

    @property
    def spawn_key(self) -> tuple:
        # The tag keeps simulation streams apart from the study's (n, chunk) streams that
        # build the threshold tables: (2, 0) must not mean both.
        return (*self.key, SIMULATION_STREAM, self.cell, self.replicate)


def mechanism_label(mechanism) -> str:
    return mechanism if isinstance(mechanism, str) else mechanism.label


def run_replicate(task: ReplicateTask, thresholds: dict) -> list[dict]:
    """Rows, one per round, of one replicate."""
    from scenarios.model import ParticipationModel   # Mesa is imported only where it is used

    rng = np.random.default_rng(np.random.SeedSequence(task.seed, spawn_key=task.spawn_key))
    lambdas = draw_lambdas(task.lambdas, task.agents, rng)
    model = ParticipationModel(lambdas, task.center_lambda, task.mechanism, task.holder_prior,
                               task.buyer_prior, thresholds, rng)
    for _ in range(task.rounds):
        model.step()
    frame = model.datacollector.get_model_vars_dataframe()
    label = mechanism_label(task.mechanism)
    rows = frame.to_dict("records")
    for k, row in enumerate(rows, start=1):
        row.update(mechanism=label, replicate=task.replicate, round=k,
                   seed_key="/".join(map(str, (task.seed, *task.spawn_key))))
    return rows


def tables_for(spec, holder_prior, buyer_prior, seed: int, executor) -> dict:
    """Threshold tables, one per mechanism, for markets of 2..agents members."""
    sizes = range(2, spec.agents + 1)
    return {mechanism_label(m): threshold_table(m, sizes, holder_prior, buyer_prior,
                                                spec.threshold_profiles, seed, executor)
            for m in spec.mechanisms}


def tasks_for(scenario, replicates=None, key: tuple = ()) -> list[ReplicateTask]:
    """Replicate tasks of every mechanism; ``replicates`` (a range) defaults to all."""
    spec = scenario.simulation
    replicates = range(spec.replicates) if replicates is None else replicates
    return [ReplicateTask(m, cell, k, scenario.seed, spec.agents, spec.lambdas,
                          spec.center_lambda, spec.rounds, scenario.holder_prior,
                          scenario.buyer_prior, key)
            for cell, m in enumerate(spec.mechanisms) for k in replicates]
