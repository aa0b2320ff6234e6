"""The ``[setting]`` table of a scenario: trade, the symmetric settings and general finite ones.

```toml
[setting]
type = "trade"                    # one holder, n − 1 buyers (the paper's evaluation)
holder_prior = { family = "uniform", low = 0.0, high = 1.0 }
buyer_prior = { family = "beta", a = 2.0, b = 2.0, low = 0.0, high = 1.0 }
correlation = 0.5                 # optional: Gaussian copula, every pair correlated 0.5

[setting]
type = "public_project"           # build or not; v_i(build) = θ_i − cost / n
prior = { family = "uniform", low = -1.0, high = 1.0 }
cost = 0.0
holder = 0                        # M3's h (footnote 9: any agent)

[setting]
type = "single_item"              # one item, no initial holder; v_i = θ_i if i gets it
prior = { family = "truncated_normal", mu = 0.5, sigma = 0.2, low = 0.0, high = 1.0 }

[setting]
type = "finite"                   # any outcomes, any value functions (n fixed by the agents)
outcomes = ["a", "b", "c"]
holder = 0
[[setting.agents]]                # affine in a scalar type: v(θ, o) = intercept[o] + slope[o]·θ
name = "A"
prior = { family = "uniform", low = 0.0, high = 1.0 }
intercept = [0.0, 0.2, -0.1]
slope = [1.0, 0.5, 0.0]
[[setting.agents]]                # a table over a discrete type space
name = "B"
types = ["low", "high"]           # optional names
probabilities = [0.4, 0.6]
values = [[0.0, 0.3, 0.1], [0.2, 0.9, -0.4]]
```

Priors: uniform {low, high}, truncated_normal {mu, sigma, low, high}, beta {a, b, low, high},
discrete {values, probabilities}.  ``correlation`` is a number in (−1, 1) (every pair) or an
n × n matrix (symmetric, unit diagonal, positive definite); it needs continuous priors.
Every error names the file and the field (spec.SpecError).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from center import finite
from center.copula import GaussianCopula, check_correlation
from center.priors import PRIOR_FAMILIES, Beta, Discrete
from center.trade import TradeSetting
from scenarios.spec import MAX_ABS_VALUE, SpecError, _Table, _check_number, _kind, _prior, _support

SETTING_TYPES = ("trade", "public_project", "single_item", "finite")
MAX_SHAPE = 1e6               # beta shape parameters beyond this are point masses in practice
MAX_TYPES = 4096              # values of a discrete prior / types of a value table
MAX_OUTCOMES = 1024


@dataclass(frozen=True)
class TradeSpec:
    """Trade with independent values (fast closed forms), or under a Gaussian copula."""

    holder_prior: object
    buyer_prior: object
    correlation: object = None     # None, a float, or a matrix (nested tuples)

    def make(self, n: int):
        from center.correlated import CorrelatedTradeSetting

        copula = _copula(self.correlation, n)
        if copula is not None:
            return CorrelatedTradeSetting(n, self.holder_prior, self.buyer_prior, copula)
        if _needs_general(self.holder_prior) or _needs_general(self.buyer_prior):
            return finite.trade(n, self.holder_prior, self.buyer_prior)
        return TradeSetting(n, self.holder_prior, self.buyer_prior)


@dataclass(frozen=True)
class SymmetricSpec:
    """public_project or single_item: every agent's surplus drawn the same way."""

    type: str
    prior: object
    cost: float = 0.0
    holder: int = 0
    correlation: object = None

    def make(self, n: int):
        copula = _copula(self.correlation, n)
        if self.type == "public_project":
            return finite.public_project(n, self.prior, self.cost, self.holder, copula)
        return finite.single_item(n, self.prior, self.holder, copula)


@dataclass(frozen=True)
class FiniteSpec:
    """A general finite-outcome setting: the number of agents is fixed by the file."""

    setting: finite.FiniteSetting

    def make(self, n: int):
        return self.setting


def _needs_general(prior) -> bool:
    """Trade's AGV tables (center/externality.py) need a bounded density: discrete priors and
    beta shapes below 1 go through the general finite-outcome path instead."""
    return prior.discrete or (isinstance(prior, Beta) and min(prior.a, prior.b) < 1)


def _copula(correlation, n: int) -> GaussianCopula | None:
    """The copula of a validated correlation; None when the types are independent (no
    correlation, 0, or the identity matrix), so that correlation 0 is the independent setting,
    draws included."""
    if correlation is None:
        return None
    if isinstance(correlation, float):
        return GaussianCopula.equicorrelated(n, correlation) if correlation != 0.0 else None
    independent = all(x == float(i == j) for i, row in enumerate(correlation)
                      for j, x in enumerate(row))
    return None if independent else GaussianCopula(correlation)


def _equicorrelation_error(rho: float, n: int) -> str | None:
    """Why ρ cannot correlate every pair of n types (None if it can): the matrix's smallest
    eigenvalue, min(1 − ρ, 1 + (n − 1)ρ), must clear the copula's 1e-10."""
    if min(1.0 - rho, 1.0 + (n - 1) * rho) > 1e-10:
        return None
    return (f"{rho!r} makes the {n} × {n} equicorrelation matrix singular or not positive "
            f"definite (needs {-1.0 / (n - 1):.4g} < ρ < 1, clear of both ends by 1e-10)")


def parse_setting(t: _Table, kind: str):
    """The setting spec of a ``[setting]`` table (not yet checked against the sizes n)."""
    type_ = t.choice("type", SETTING_TYPES)
    if kind == "simulation" and type_ != "trade":
        raise SpecError(t.path, t.name("type"), f"a simulation runs the trade setting; "
                        f"{type_!r} settings are for kind = \"study\"")
    if type_ == "trade":
        t.allow("type", "holder_prior", "buyer_prior", "correlation")
        holder = parse_prior(t.table("holder_prior"))
        buyer = parse_prior(t.table("buyer_prior"))
        correlation = _correlation(t, (holder, buyer))
        if kind == "simulation":
            if correlation is not None:
                raise SpecError(t.path, t.name("correlation"), "correlated values are for "
                                "kind = \"study\"; a simulation draws independent values")
            for key, prior in (("holder_prior", holder), ("buyer_prior", buyer)):
                if _needs_general(prior):
                    raise SpecError(t.path, t.name(key), "a simulation needs a uniform, truncated "
                                    "normal or beta (a, b ≥ 1) prior")
        return TradeSpec(holder, buyer, correlation)
    if type_ in ("public_project", "single_item"):
        keys = ("type", "prior", "holder", "correlation") + (("cost",) if type_ == "public_project" else ())
        t.allow(*keys)
        prior = parse_prior(t.table("prior"))
        cost = t.number("cost", -MAX_ABS_VALUE, MAX_ABS_VALUE, default=0.0) if "cost" in keys else 0.0
        return SymmetricSpec(type_, prior, float(cost), t.integer("holder", minimum=0, default=0),
                             _correlation(t, (prior,)))
    return FiniteSpec(_finite(t))


def check_sizes(spec, t: _Table, study: _Table, sizes: tuple) -> None:
    """The setting against the study's population sizes: a finite setting's n is its agents';
    M3's holder must exist; a correlation must make a valid matrix at every n."""
    if isinstance(spec, FiniteSpec):
        if sizes != (spec.setting.n,):
            raise SpecError(t.path, study.name("n"), f"a finite setting has {spec.setting.n} "
                            f"agents: write n = [{spec.setting.n}] or leave n out, got {list(sizes)}")
        return
    if isinstance(spec, SymmetricSpec) and spec.holder >= min(sizes):
        raise SpecError(t.path, t.name("holder"), f"must be an agent index below the smallest "
                        f"n = {min(sizes)}, got {spec.holder}")
    rho = spec.correlation
    if isinstance(rho, float):
        for n in sizes:
            if (why := _equicorrelation_error(rho, n)) is not None:
                raise SpecError(t.path, t.name("correlation"), why)
    if isinstance(rho, tuple) and any(len(rho) != n for n in sizes):
        raise SpecError(t.path, t.name("correlation"), f"a {len(rho)} × {len(rho)} matrix "
                        f"needs every n to be {len(rho)}, got n = {list(sizes)}")


def default_sizes(spec) -> tuple | None:
    return (spec.setting.n,) if isinstance(spec, FiniteSpec) else None


# -- priors -----------------------------------------------------------------------------------

def parse_prior(t: _Table):
    family = t.choice("family", tuple(PRIOR_FAMILIES))
    if family in ("uniform", "truncated_normal"):
        return _prior(t)
    if family == "beta":
        t.allow("family", "a", "b", "low", "high")
        a = t.number("a", minimum=0.0, maximum=MAX_SHAPE, strict=True)
        b = t.number("b", minimum=0.0, maximum=MAX_SHAPE, strict=True)
        low, high = _support(t) if ("low" in t.data or "high" in t.data) else (0.0, 1.0)
        return Beta(a, b, low, high)
    t.allow("family", "values", "probabilities")
    values = _numbers(t, "values", MAX_TYPES)
    for k, v in enumerate(values):
        if v in values[:k]:
            raise SpecError(t.path, f"{t.name('values')}[{k}]", f"{v:g} is listed twice")
    probs = _probabilities(t, "probabilities", len(values))
    return Discrete(tuple(values), tuple(probs))


def _numbers(t: _Table, key: str, most: int, length: int | None = None) -> list[float]:
    raw = t.get(key)
    want = f"{length} numbers" if length is not None else "a non-empty list of numbers"
    if not isinstance(raw, list) or not raw or (length is not None and len(raw) != length):
        got = f"{len(raw)} numbers" if isinstance(raw, list) else _kind(raw)
        raise SpecError(t.path, t.name(key), f"must be {want}, got {got}")
    if len(raw) > most:
        raise SpecError(t.path, t.name(key), f"at most {most} entries, got {len(raw)}")
    return [_check_number(t.path, f"{t.name(key)}[{k}]", v, -MAX_ABS_VALUE, MAX_ABS_VALUE, False)
            for k, v in enumerate(raw)]


def _probabilities(t: _Table, key: str, length: int) -> list[float]:
    raw = t.get(key)
    if not isinstance(raw, list) or len(raw) != length:
        got = f"{len(raw)} numbers" if isinstance(raw, list) else _kind(raw)
        raise SpecError(t.path, t.name(key), f"must list one probability per value "
                        f"({length}), got {got}")
    probs = [_check_number(t.path, f"{t.name(key)}[{k}]", v, 0.0, 1.0, False)
             for k, v in enumerate(raw)]
    total = sum(probs)
    if abs(total - 1.0) > 1e-9:
        raise SpecError(t.path, t.name(key), f"must sum to 1, got {total:.12g}")
    return probs


def _correlation(t: _Table, priors):
    if "correlation" not in t.data:
        return None
    raw = t.get("correlation")
    name = t.name("correlation")
    for prior in priors:
        if prior.discrete:
            raise SpecError(t.path, name, "correlated types need continuous priors (uniform, "
                            "truncated_normal or beta): a discrete type does not pin down the "
                            "copula's latent value")
    if isinstance(raw, list):
        return _matrix(t, raw)
    rho = _check_number(t.path, name, raw, None, None, False)
    if not -1.0 < rho < 1.0:
        raise SpecError(t.path, name, f"must lie strictly between −1 and 1, got {rho:g}")
    return float(rho) + 0.0


def _matrix(t: _Table, raw: list) -> tuple:
    name = t.name("correlation")
    n = len(raw)
    if n == 0:
        raise SpecError(t.path, name, "must be a number in (−1, 1) or an n × n matrix (a list of "
                        "n rows of n numbers), got an empty list")
    rows = []
    for i, row in enumerate(raw):
        if not isinstance(row, list) or len(row) != n:
            raise SpecError(t.path, f"{name}[{i}]", f"a {n} × {n} matrix needs {n} numbers per "
                            f"row, got {len(row) if isinstance(row, list) else _kind(row)}")
        rows.append([_check_number(t.path, f"{name}[{i}][{j}]", v, -1.0, 1.0, False)
                     for j, v in enumerate(row)])
    try:
        check_correlation(np.asarray(rows, float))
    except ValueError as err:
        raise SpecError(t.path, name, str(err)) from None
    return tuple(tuple(r) for r in rows)


# -- general finite settings ------------------------------------------------------------------

def _finite(t: _Table) -> finite.FiniteSetting:
    t.allow("type", "outcomes", "agents", "holder", "correlation")
    outcomes = t.get("outcomes")
    if not isinstance(outcomes, list) or not outcomes:
        raise SpecError(t.path, t.name("outcomes"), "must be a non-empty list of outcome names")
    if len(outcomes) > MAX_OUTCOMES:
        raise SpecError(t.path, t.name("outcomes"), f"at most {MAX_OUTCOMES} outcomes")
    for k, o in enumerate(outcomes):
        if not isinstance(o, str) or not o:
            raise SpecError(t.path, f"{t.name('outcomes')}[{k}]", f"must be a name, got {_kind(o)}")
        if o in outcomes[:k]:
            raise SpecError(t.path, f"{t.name('outcomes')}[{k}]", f"{o!r} is listed twice")
    raw = t.get("agents")
    if not isinstance(raw, list) or len(raw) < 2 or not all(isinstance(a, dict) for a in raw):
        raise SpecError(t.path, t.name("agents"), "must list at least two agents "
                        "([[setting.agents]] tables)")
    agents = [_agent(_Table(a, t.path, f"{t.name('agents')}[{i}]"), i, len(outcomes))
              for i, a in enumerate(raw)]
    names = [a.name for a in agents]           # defaults filled in: "agent 0" may clash
    for i, name in enumerate(names):
        if name in names[:i] or name == "center":
            raise SpecError(t.path, f"{t.name('agents')}[{i}].name", f"{name!r} is taken "
                            "(agent names, given or the default 'agent i', are distinct and "
                            "not 'center')")
    _check_scale(t, agents)
    holder = t.integer("holder", minimum=0, default=0)
    if holder >= len(agents):
        raise SpecError(t.path, t.name("holder"), f"must be an agent index 0..{len(agents) - 1}, "
                        f"got {holder}")
    correlation = None
    if "correlation" in t.data:
        if any(not isinstance(a, finite.AffineValues) for a in agents):
            raise SpecError(t.path, t.name("correlation"), "correlated types need every agent "
                            "affine in a scalar type with a continuous prior, not a value table")
        rho = _correlation(t, [a.prior for a in agents])
        if isinstance(rho, tuple) and len(rho) != len(agents):
            raise SpecError(t.path, t.name("correlation"), f"needs a {len(agents)} × {len(agents)} "
                            f"matrix (one row per agent), got {len(rho)} rows")
        if isinstance(rho, float) and (why := _equicorrelation_error(rho, len(agents))):
            raise SpecError(t.path, t.name("correlation"), why)
        correlation = _copula(rho, len(agents))
    return finite.FiniteSetting(tuple(agents), tuple(outcomes), holder, correlation,
                                name="finite")


MAX_VALUE_SPREAD = 1e6      # largest |value| over the median one


def _check_scale(t: _Table, agents) -> None:
    """Refuse values so spread out that the loss line hides every loss.  A loss is a utility
    below 1e-12 of the largest |value| the setting allows (as in trade); one outcome worth
    1e12 to somebody would then make every loss of size 1 invisible, whether or not that
    outcome is ever chosen."""
    sizes = [_magnitudes(a) for a in agents]
    every = np.concatenate(sizes)
    typical = float(np.median(every[every > 0])) if np.any(every > 0) else 0.0
    worst = int(np.argmax([m.max() for m in sizes]))
    largest = float(sizes[worst].max())
    if typical > 0 and largest > MAX_VALUE_SPREAD * typical:
        raise SpecError(t.path, f"{t.name('agents')}[{worst}]", f"a value of size {largest:.3g} is "
                        f"{largest / typical:.3g} times the median {typical:.3g} (at most "
                        f"{MAX_VALUE_SPREAD:g}): losses are measured against 1e-12 of the largest "
                        "value, so smaller ones would vanish; rescale or drop that outcome")


def _magnitudes(agent) -> np.ndarray:
    """|value| per outcome at the ends of the type range (per type for a table)."""
    if isinstance(agent, finite.TableValues):
        return np.abs(np.asarray(agent.values)).ravel()
    reach = max(abs(agent.prior.low), abs(agent.prior.high))
    return np.abs(agent.intercept) + np.abs(agent.slope) * reach


def _agent(a: _Table, index: int, outcomes: int):
    name = a.string("name", default=f"agent {index}")
    if not name.strip() or not name.isprintable():
        raise SpecError(a.path, a.name("name"), f"must be a printable, non-blank name, got {name!r}")
    if "values" in a.data:
        a.allow("name", "types", "probabilities", "values")
        raw = a.get("values")
        if not isinstance(raw, list) or not raw:
            raise SpecError(a.path, a.name("values"), "must be a table: one row per type, each "
                            f"with {outcomes} numbers (one per outcome)")
        if len(raw) > MAX_TYPES:
            raise SpecError(a.path, a.name("values"), f"at most {MAX_TYPES} types")
        rows = []
        for k, row in enumerate(raw):
            if not isinstance(row, list) or len(row) != outcomes:
                got = f"{len(row)} numbers" if isinstance(row, list) else _kind(row)
                raise SpecError(a.path, f"{a.name('values')}[{k}]", f"must hold {outcomes} "
                                f"numbers (one per outcome), got {got}")
            rows.append([_check_number(a.path, f"{a.name('values')}[{k}][{j}]", v,
                                       -MAX_ABS_VALUE, MAX_ABS_VALUE, False)
                         for j, v in enumerate(row)])
        probs = _probabilities(a, "probabilities", len(rows))
        types = a.get("types", None)
        if types is not None and (not isinstance(types, list) or len(types) != len(rows)
                                  or not all(isinstance(x, str) for x in types)
                                  or len(set(types)) != len(types)):
            raise SpecError(a.path, a.name("types"), f"must list {len(rows)} distinct type "
                            "names (one per row of values)")
        return finite.TableValues(tuple(map(tuple, rows)), tuple(probs), name,
                                  tuple(types or ()))
    a.allow("name", "prior", "intercept", "slope")
    prior = parse_prior(a.table("prior"))
    intercept = _numbers(a, "intercept", MAX_OUTCOMES, outcomes)
    slope = _numbers(a, "slope", MAX_OUTCOMES, outcomes)
    return finite.AffineValues(prior, tuple(intercept), tuple(slope), name)
