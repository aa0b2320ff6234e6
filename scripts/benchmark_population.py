"""Benchmark the population model: agent-rounds per second on one core, against the same
model written in the plain per-agent Mesa style, and memory with per-agent records on.

    python scripts/benchmark_population.py            # about two minutes
    python scripts/benchmark_population.py --quick

The model: N = 10⁴ agents (2,000 holders), markets of 5, 70% rational and 30% adaptive, λ
lognormal around 1.955, M3+ (ρ re-tuned per market size), 1,000 rounds.  The threshold table is
computed once before the timed part (it is the same for every replicate).

The per-agent baseline keeps the same rules but does what a first Mesa model would: every
agent is an object with its own attributes, ``shuffle_do("decide")`` until nobody changes,
Python lists for the matching, and one call of the mechanism per market.  It runs fewer
rounds (its cost per round is flat after the first) and its rate is compared per agent-round.
Both run in this process, one after the other, with BLAS and numpy on one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import replace

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import mesa  # noqa: E402
import numpy as np  # noqa: E402

from agents.learning import AdaptiveSpec  # noqa: E402
from center.mechanisms import M3  # noqa: E402
from center.priors import Uniform  # noqa: E402
from center.trade import TradeSetting  # noqa: E402
from scenarios.model import ParticipationModel  # noqa: E402
from scenarios.records import RecordSpec  # noqa: E402
from scenarios.spec import SimulationSpec  # noqa: E402
from scenarios.thresholds import threshold_table  # noqa: E402

U = Uniform(0, 1)
N, MARKET, HOLDERS = 10_000, 5, 2_000


def make_spec(rounds: int, records: RecordSpec) -> SimulationSpec:
    return SimulationSpec(
        agents=N, lambdas={"distribution": "lognormal", "median": 1.955, "sigma": 0.3},
        center_lambda=1.0, mechanisms=("M3+",), rounds=rounds, replicates=1,
        market_size=MARKET, holders=HOLDERS, rules=(("rational", 0.7), ("adaptive", 0.3)),
        adaptive=AdaptiveSpec("mean", prior_gain=0.05, prior_loss=0.01, retry=0.02),
        records=records)


def vectorised(spec, table, seed: int = 1) -> float:
    """Wall seconds of one replicate of the product model (construction included)."""
    start = time.perf_counter()
    model = ParticipationModel(spec, "M3+", table, U, U, np.random.default_rng(seed))
    for _ in range(spec.rounds):
        model.step()
    model.agent_frame()
    return time.perf_counter() - start, model


class PlainAgent(mesa.Agent):
    """The per-agent style: state and decisions in the agent, one at a time."""

    def __init__(self, model, lam, rational, holder, learner):
        super().__init__(model)
        self.lam, self.rational, self.holder = lam, rational, holder
        self.joined, self.gain, self.loss, self.seen = True, learner.prior_gain, learner.prior_loss, 0

    def decide(self):
        m = self.model
        if not self.rational:
            return
        # Running counts kept by the model (a count over all agents here would be O(N²)).
        buyers = m.buyers_in - (self.joined and not self.holder)
        holders = m.holders_in - (self.joined and self.holder)
        if self.holder:
            size, ok = 1 + min(MARKET - 1, buyers), buyers >= 1
            limit = m.table[size]["holder"] if size >= 2 else -1
        else:
            size, ok = min(MARKET, buyers + 2), holders >= 1
            limit = m.table[size]["buyer"]
        want = ok and m.spec.center_lambda <= m.table[size]["center"] and self.lam <= limit
        if want != self.joined:
            self.joined = want
            m.changes += 1
            delta = 1 if want else -1
            if self.holder:
                m.holders_in += delta
            else:
                m.buyers_in += delta

    def intend(self):
        if self.rational:
            return
        coin = self.model.rng.random() < self.model.spec.adaptive.retry
        self.joined = self.lam * self.loss <= self.gain or (not self.joined and coin)

    def learn(self, utility):
        self.seen += 1
        step = 1.0 / (self.model.spec.adaptive.prior_weight + self.seen)
        self.gain += step * (max(utility, 0.0) - self.gain)
        self.loss += step * (max(-utility, 0.0) - self.loss)


class PlainModel(mesa.Model):
    def __init__(self, spec, table, seed=1):
        super().__init__(rng=np.random.default_rng(seed))
        self.spec, self.table, self.changes = spec, table, 0
        lam = spec.lambdas["median"] * np.exp(spec.lambdas["sigma"] * self.rng.standard_normal(N))
        rational = self.rng.permutation(N) < int(0.7 * N)
        for k in range(N):
            PlainAgent(self, float(lam[k]), bool(rational[k]), k < HOLDERS, spec.adaptive)
        self.settings = {s: TradeSetting(s, U, U) for s in range(2, MARKET + 1)}
        self.participation = []

    def step(self):
        self.agents.do("intend")
        self.holders_in = sum(1 for a in self.agents if a.joined and a.holder)
        self.buyers_in = sum(1 for a in self.agents if a.joined and not a.holder)
        for _ in range(100):
            self.changes = 0
            self.agents.shuffle_do("decide")
            if self.changes == 0:
                break
        members = [a for a in self.agents.shuffle() if a.joined]
        holders = [a for a in members if a.holder]
        buyers = [a for a in members if not a.holder]
        while holders and buyers:
            market = [holders.pop()] + [buyers.pop() for _ in range(min(MARKET - 1, len(buyers)))]
            size = len(market)
            if self.spec.center_lambda > self.table[size]["center"]:
                continue
            values = [float(U.sample(self.rng, 1)[0]) for _ in market]
            batch = self.settings[size].batch(np.array([values]))
            outcome = M3(self.table[size]["rho"]).run(batch)
            for agent, u in zip(market, outcome.utility[0]):
                if not agent.rational:
                    agent.learn(float(u))
        self.participation.append(sum(a.joined for a in self.agents) / N)


def rss_child(records: str) -> int:
    """Peak RSS (KB) of a fresh process running one 1,000-round replicate."""
    out = subprocess.run([sys.executable, __file__, "--rss-only", records], capture_output=True,
                         text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke test")
    parser.add_argument("--rss-only", choices=("none", "sample", "all"),
                        help="internal: one replicate in this process, print its peak RSS")
    args = parser.parse_args()
    rounds = 200 if args.quick else 1000
    table = threshold_table("M3+", range(2, MARKET + 1), U, U, 50_000, seed=1)
    if args.rss_only:
        every = 10
        spec = make_spec(rounds, RecordSpec(args.rss_only, 1000, every))
        vectorised(spec, table)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        return
    repeats = 2 if args.quick else 3
    spec = make_spec(rounds, RecordSpec("sample", 1000, 10))
    fast = [vectorised(spec, table, seed)[0] for seed in range(repeats)]
    plain_rounds = 3 if args.quick else 10
    slow = []
    for seed in range(repeats):
        start = time.perf_counter()
        model = PlainModel(make_spec(plain_rounds, RecordSpec("none")), table, seed)
        for _ in range(plain_rounds):
            model.step()
        slow.append(time.perf_counter() - start)
    _, check = vectorised(replace(spec, rounds=plain_rounds), table, 0)
    fast_rate = N * rounds / statistics.median(fast)
    slow_rate = N * plain_rounds / statistics.median(slow)
    result = {
        "agents": N, "market_size": MARKET, "rounds": rounds,
        "vectorised_s_median": round(statistics.median(fast), 3),
        "vectorised_agent_rounds_per_s": round(fast_rate),
        "per_agent_rounds": plain_rounds,
        "per_agent_s_median": round(statistics.median(slow), 3),
        "per_agent_agent_rounds_per_s": round(slow_rate),
        "ratio": round(fast_rate / slow_rate, 1),
        "participation_after_rounds": {
            "vectorised": float(check.participation_rate), "per_agent": model.participation[-1]},
        "peak_rss_kb": {mode: rss_child(mode) for mode in ("none", "sample", "all")},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
