"""The ``[simulation]`` table of a scenario: population, decision rules, Center, records.

    [simulation]
    agents = 10000              # N, the population
    market_size = 5             # n members per market (default: N, one market)
    roles = "fixed"             # or "rotating": a random member holds the item each round
    holders = 2000              # fixed roles: agents 0..holders−1 hold (default N // n)
    rule = "rational"           # or rules = { rational = 0.7, adaptive = 0.3 }
    lambda = { distribution = "preset", name = "brown_et_al_2024", sigma = 0.3 }
    center_lambda = 2.25
    mechanisms = ["M1", "M2", "M3+", { name = "M3-adaptive", objective = "participation" }]
    rounds = 1000
    replicates = 10
    [simulation.adaptive]       # required when there are adaptive agents
    estimator = "mean"          # or "ewma" with alpha = 0.1
    prior_gain = 0.05           # the stated prior belief Ê[x⁺], Ê[x⁻]
    prior_loss = 0.01
    prior_weight = 1            # mean: the prior counts as this many markets
    retry = 0.02                # chance per round that an agent who is out tries again
    [simulation.records]        # per-agent rows: "none", "sample" (evenly spaced) or "all"
    agents = "sample"
    sample = 100
    every = 10
    [simulation.steady_state]
    share = 0.25                # the last quarter of the rounds is the steady state
    band = 0.02                 # reached when participation stays within ±band of it
"""

from __future__ import annotations

from agents.learning import ESTIMATORS, AdaptiveSpec
from agents.participant import RULES
from scenarios.records import MAX_AGENT_ROWS, MAX_RUN_ROWS, RECORD_MODES, RecordSpec
from scenarios.spec import SpecError

ROLE_MODES = ("fixed", "rotating")
MAX_AGENTS = 1_000_000         # each agent is also a Mesa object (about 1 KB)
MAX_MARKET = 100               # threshold tables cover sizes 2..n: cost grows like n²
MAX_ROUNDS = 10_000_000


def population_fields(t, path) -> dict:
    """The population part of a validated SimulationSpec, as keyword arguments."""
    agents = t.integer("agents", minimum=2)
    if agents > MAX_AGENTS:
        raise SpecError(path, t.name("agents"), f"must be ≤ {MAX_AGENTS:,}, got {agents:,}")
    size = t.integer("market_size", minimum=2, default=agents)
    if size > agents:
        raise SpecError(path, t.name("market_size"), f"a market of {size} cannot form in a "
                        f"population of agents = {agents}: must be 2..{agents}")
    if size > MAX_MARKET:
        given = "market_size" in t.data
        raise SpecError(path, t.name("market_size"), f"must be ≤ {MAX_MARKET} (every size up "
                        f"to it needs a threshold table), got {size}"
                        + ("" if given else f": it defaults to agents = {agents}, set it"))
    roles = t.choice("roles", ROLE_MODES, default="fixed")
    holders = _holders(t, path, agents, size, roles)
    rules = _rules(t, path)
    adaptive = _adaptive(t, path, needed=any(name == "adaptive" and w > 0 for name, w in rules))
    rounds = t.integer("rounds", minimum=1)
    if rounds > MAX_ROUNDS:
        raise SpecError(path, t.name("rounds"), f"must be ≤ {MAX_ROUNDS:,}, got {rounds:,}")
    return {"agents": agents, "market_size": size, "roles": roles, "holders": holders,
            "rules": rules, "adaptive": adaptive, "rounds": rounds,
            "records": _records(t, path, agents, rounds), **_steady(t)}


def _holders(t, path, agents: int, size: int, roles: str) -> int:
    if roles == "rotating":
        if "holders" in t.data:
            raise SpecError(path, t.name("holders"), "only with roles = \"fixed\"")
        return 0
    holders = t.integer("holders", minimum=1, default=max(1, agents // size))
    if agents - holders < size - 1:
        raise SpecError(path, t.name("holders"), f"leaves {agents - holders} buyers, fewer than "
                        f"the {size - 1} a market of {size} needs: must be ≤ {agents - size + 1}")
    return holders


def _rules(t, path) -> tuple:
    if "rule" in t.data and "rules" in t.data:
        raise SpecError(path, t.name("rules"), "give either rule = \"…\" or rules = {…}, not both")
    if "rules" not in t.data:
        return ((t.choice("rule", RULES, default="rational"), 1.0),)
    shares = t.table("rules")
    shares.allow(*RULES)
    if not shares.data:
        raise SpecError(path, t.name("rules"), f"must give a share to at least one of {', '.join(RULES)}")
    out = tuple((name, shares.number(name, minimum=0.0, maximum=1.0)) for name in shares.data)
    total = sum(w for _, w in out)
    if abs(total - 1.0) > 1e-9:
        raise SpecError(path, t.name("rules"), f"shares must sum to 1, got {total:.12g}")
    return out


def _adaptive(t, path, needed: bool) -> AdaptiveSpec:
    if "adaptive" not in t.data:
        if needed:
            raise SpecError(path, t.name("adaptive"), "adaptive agents need a stated prior "
                            "belief: add [simulation.adaptive] with prior_gain and prior_loss")
        return AdaptiveSpec()
    a = t.table("adaptive")
    a.allow("estimator", "alpha", "prior_gain", "prior_loss", "prior_weight", "retry")
    estimator = a.choice("estimator", ESTIMATORS, default="mean")
    only = {"alpha": "ewma", "prior_weight": "mean"}
    for key, owner in only.items():
        if key in a.data and estimator != owner:
            raise SpecError(path, a.name(key), f"only with estimator = \"{owner}\"")

    def belief(key: str) -> float:
        # Without adaptive agents the belief is unused, so it need not be stated.
        default = {} if needed else {"default": getattr(AdaptiveSpec, key)}
        return a.number(key, minimum=0.0, **default)

    return AdaptiveSpec(
        estimator=estimator,
        alpha=a.number("alpha", minimum=0.0, maximum=1.0, strict=True, default=0.1),
        prior_gain=belief("prior_gain"), prior_loss=belief("prior_loss"),
        prior_weight=a.number("prior_weight", minimum=0.0, strict=True, default=1.0),
        retry=a.number("retry", minimum=0.0, maximum=1.0, default=0.02))


def _records(t, path, agents: int, rounds: int) -> RecordSpec:
    r = t.table("records", required=False)
    r.allow("agents", "sample", "every")
    spec = RecordSpec(agents=r.choice("agents", RECORD_MODES, default="sample"),
                      sample=r.integer("sample", minimum=1, default=100),
                      every=r.integer("every", minimum=1, default=10))
    rows = spec.rows(agents, rounds)
    if rows > MAX_AGENT_ROWS:
        raise SpecError(path, t.name("records"), f"would keep {rows:,} agent rows per replicate "
                        f"(limit {MAX_AGENT_ROWS:,}): record a sample or a larger 'every'")
    return spec


def check_run_rows(spec, t) -> None:
    """All replicates' agent rows are held together before they are written: bound them."""
    rows = spec.records.rows(spec.agents, spec.rounds) * spec.replicates * len(spec.mechanisms)
    if rows > MAX_RUN_ROWS:
        raise SpecError(t.path, t.name("records"), f"would keep {rows:,} agent rows over "
                        f"{spec.replicates} replicates × {len(spec.mechanisms)} mechanisms "
                        f"(limit {MAX_RUN_ROWS:,}): record a sample or a larger 'every'")


def _steady(t) -> dict:
    s = t.table("steady_state", required=False)
    s.allow("share", "band")
    return {"steady_share": s.number("share", minimum=0.0, maximum=1.0, strict=True, default=0.25),
            "steady_band": s.number("band", minimum=0.0, strict=True, default=0.02)}
