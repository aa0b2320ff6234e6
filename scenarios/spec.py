"""Scenario files (TOML): schema, validation, frozen specs.

A scenario is data, never code.  ``load`` reads and validates a file once; every error names
the file, the field, what was wrong and what is allowed (``SpecError``).  Inner code trusts
the frozen spec it gets.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from agents.learning import AdaptiveSpec
from center.adaptive import OBJECTIVES, AdaptiveM3
from center.mechanisms import FIXED, M3, MECHANISM_NAMES, TUNED
from center.priors import PRIOR_FAMILIES, TruncatedNormal, Uniform
from scenarios.records import RecordSpec

KINDS = ("study", "simulation")
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
BACKENDS = ("ray", "serial")
LAMBDA_DISTRIBUTIONS = ("fixed", "lognormal", "preset", "list", "mixture")


class SpecError(ValueError):
    """A scenario that cannot be run; the message is one line meant for the user."""

    def __init__(self, path, field_name: str, message: str) -> None:
        self.path, self.field, self.message = str(path), field_name, message
        where = f"field '{field_name}': " if field_name else ""
        one_line = f"{self.path}: {where}{message}".replace("\r", "\\r").replace("\n", "\\n")
        super().__init__(one_line)


@dataclass(frozen=True)
class RunSpec:
    backend: str = "ray"
    workers: int | None = None
    address: str | None = None


@dataclass(frozen=True)
class StudySpec:
    sizes: tuple[int, ...]
    mechanisms: tuple
    profiles: int
    chunk_profiles: int = 16384


@dataclass(frozen=True)
class SimulationSpec:
    """A validated [simulation] table (its fields: scenarios/population_spec.py)."""

    agents: int
    lambdas: dict = field(hash=False)
    center_lambda: float
    mechanisms: tuple
    rounds: int
    replicates: int
    threshold_profiles: int = 200_000
    market_size: int = 0                   # 0: one market of all agents
    roles: str = "fixed"
    holders: int = 1
    rules: tuple = (("rational", 1.0),)
    adaptive: AdaptiveSpec = AdaptiveSpec()
    records: RecordSpec = RecordSpec()
    steady_share: float = 0.25
    steady_band: float = 0.02

    def __post_init__(self) -> None:
        if not self.market_size:
            object.__setattr__(self, "market_size", self.agents)


@dataclass(frozen=True)
class Scenario:
    path: str
    text: str
    name: str
    kind: str
    seed: int
    description: str
    holder_prior: Uniform | TruncatedNormal | None      # trade only
    buyer_prior: Uniform | TruncatedNormal | None
    run: RunSpec
    study: StudySpec | None = None
    simulation: SimulationSpec | None = None
    sweep: object | None = None         # scenarios.sweep.SweepSpec
    cells: tuple = ()                   # ((swept values, Scenario), ...) when sweeping
    setting: object | None = None       # scenarios.setting_spec: make(n) -> the setting

    def with_overrides(self, **changes) -> "Scenario":
        """A copy with command-line overrides (profiles, replicates, seed, backend, ...)."""
        if self.sweep is not None:
            return self._sweep_overrides(changes)
        out = self
        if changes.get("seed") is not None:
            out = replace(out, seed=_check_int(self.path, "--seed", changes["seed"], 0))
        run = {k: changes[k] for k in ("backend", "workers", "address") if changes.get(k) is not None}
        if "address" in run and not run["address"].strip():
            raise SpecError(self.path, "--address", "needs host:port, ray://host:port or auto")
        if run:
            if "backend" in run and run["backend"] not in BACKENDS:
                raise SpecError(self.path, "--backend", _choice(run["backend"], BACKENDS))
            if "workers" in run:
                _check_int(self.path, "--workers", run["workers"], 1)
            out = replace(out, run=replace(out.run, **run))
        if changes.get("profiles") is not None:
            n = _check_int(self.path, "--profiles", changes["profiles"], 1)
            if out.study is not None:
                out = replace(out, study=replace(out.study, profiles=n))
            else:
                out = replace(out, simulation=replace(out.simulation, threshold_profiles=n))
        if changes.get("replicates") is not None:
            n = _check_int(self.path, "--replicates", changes["replicates"], 1)
            if out.simulation is None:
                raise SpecError(self.path, "--replicates", "only a simulation scenario has replicates")
            out = replace(out, simulation=replace(out.simulation, replicates=n))
        return out


    def _sweep_overrides(self, changes: dict) -> "Scenario":
        from scenarios.sweep import check_overrides

        check_overrides(self.sweep, self.path, changes)
        reps = changes.get("replicates")
        sweep = self.sweep
        if reps is not None:
            sweep = replace(sweep, replicates=_check_int(self.path, "--replicates", reps, 1))
        inner = {**changes, "replicates": None}
        base = replace(self, sweep=None, cells=()).with_overrides(**inner)
        cells = tuple((p, c.with_overrides(**inner)) for p, c in self.cells)
        return replace(base, sweep=sweep, cells=cells)


def load(path) -> Scenario:
    """Read and validate a scenario file; raises SpecError on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise SpecError(path, "", f"cannot read the file ({err.strerror})") from None
    except UnicodeDecodeError as err:
        raise SpecError(path, "", f"is not UTF-8 text (byte {err.start}: {err.reason})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(path, "", f"TOML syntax error: {err}") from None
    return parse(data, path, text)


def parse(data: dict, path, text: str = "") -> Scenario:
    t = _Table(data, str(path), "")
    if "sweep" in data:
        from scenarios.sweep import expand

        sweep, cells = expand(data, path, text, parse)
        # The first cell stands for the sweep's shared fields (name, kind, run): the base
        # alone may lack a field that the grid supplies.
        return replace(cells[0][1], sweep=sweep, cells=cells)
    t.allow("scenario", "setting", "study", "simulation", "run")
    head = t.table("scenario")
    head.allow("name", "kind", "seed", "description")
    kind = head.choice("kind", KINDS)
    from scenarios.setting_spec import check_sizes, default_sizes, parse_setting

    setting = t.table("setting")
    made = parse_setting(setting, kind)
    run = t.table("run", required=False)
    run.allow("backend", "workers", "address")
    scenario = Scenario(
        path=str(path), text=text, name=_name(head), kind=kind,
        seed=head.integer("seed", minimum=0), description=head.string("description", default=""),
        holder_prior=getattr(made, "holder_prior", None),
        buyer_prior=getattr(made, "buyer_prior", None), setting=made,
        run=RunSpec(backend=run.choice("backend", BACKENDS, default="ray"),
                    workers=run.integer("workers", minimum=1, default=None),
                    address=run.string("address", default=None)),
    )
    other = "simulation" if kind == "study" else "study"
    if other in data:
        raise SpecError(path, other, f"a {kind} scenario has no [{other}] table")
    if kind == "study":
        study = _study(t.table("study"), default_sizes(made))
        check_sizes(made, setting, t.table("study"), study.sizes)
        return replace(scenario, study=study)
    return replace(scenario, simulation=_simulation(t.table("simulation")))


def _name(head: "_Table") -> str:
    name = head.string("name")
    if not NAME_PATTERN.fullmatch(name):
        raise SpecError(head.path, head.name("name"), "must be a plain folder name of letters, "
                        f"digits, '.', '_' or '-', not starting with '.', got {name!r}")
    return name


def _study(t: "_Table", sizes: tuple | None = None) -> StudySpec:
    """``sizes``: the n a setting fixes (a finite setting's agents), used when n is left out."""
    t.allow("n", "mechanisms", "profiles", "chunk_profiles")
    sizes = sizes if sizes is not None and "n" not in t.data else _sizes(t)
    return StudySpec(sizes=sizes, mechanisms=_mechanisms(t),
                     profiles=t.integer("profiles", minimum=1),
                     chunk_profiles=t.integer("chunk_profiles", minimum=1, default=16384))


def _simulation(t: "_Table") -> SimulationSpec:
    from scenarios.population_spec import check_run_rows, population_fields

    t.allow("agents", "lambda", "center_lambda", "mechanisms", "rounds", "replicates",
            "threshold_profiles", "market_size", "roles", "holders", "rule", "rules",
            "adaptive", "records", "steady_state")
    population = population_fields(t, t.path)
    spec = SimulationSpec(
        lambdas=_lambdas(t.table("lambda"), population["agents"]),
        center_lambda=t.number("center_lambda", minimum=0.0, strict=True),
        mechanisms=_mechanisms(t, simulation=True),
        replicates=t.integer("replicates", minimum=1, default=1),   # a sweep: sweep.replicates
        threshold_profiles=t.integer("threshold_profiles", minimum=1, default=200_000),
        **population)
    check_run_rows(spec, t)
    return spec


def _sizes(t: "_Table") -> tuple[int, ...]:
    raw = t.get("n")
    if isinstance(raw, dict):
        r = t.table("n")
        r.allow("from", "to")
        lo, hi = r.integer("from", minimum=2), r.integer("to", minimum=2)
        if hi < lo:
            raise SpecError(t.path, r.name("to"), f"must be ≥ n.from = {lo}, got {hi}")
        return tuple(range(lo, hi + 1))
    if not isinstance(raw, list) or not raw:
        raise SpecError(t.path, t.name("n"), "must be a non-empty list of integers ≥ 2 or a "
                        "table {from = 2, to = 20}")
    sizes = [_check_int(t.path, f"{t.name('n')}[{i}]", v, 2) for i, v in enumerate(raw)]
    for i, v in enumerate(sizes):
        if v in sizes[:i]:
            raise SpecError(t.path, f"{t.name('n')}[{i}]", f"{v} is listed twice")
    return tuple(sizes)


def _mechanisms(t: "_Table", simulation: bool = False) -> tuple:
    raw = t.get("mechanisms")
    if not isinstance(raw, list) or not raw:
        raise SpecError(t.path, t.name("mechanisms"),
                        f"must be a non-empty list of {', '.join(MECHANISM_NAMES)}")
    out = []
    for i, item in enumerate(raw):
        where = f"{t.name('mechanisms')}[{i}]"
        if isinstance(item, dict) and item.get("name") == "M3-adaptive":
            out.append(_adaptive_center(_Table(item, t.path, where), simulation))
        elif isinstance(item, dict):
            m = _Table(item, t.path, where)
            m.allow("name", "rho")
            m.choice("name", ("M3", "M3-adaptive"))
            out.append(M3(m.number("rho", minimum=0.0, maximum=0.5) + 0.0))   # no −0.0
        elif isinstance(item, str) and (item in FIXED or item in TUNED):
            out.append(item)
        elif item == "M3":
            raise SpecError(t.path, where, "M3 needs its ρ: write {name = \"M3\", rho = 0.35}")
        else:
            raise SpecError(t.path, where, _choice(item, MECHANISM_NAMES))
        labels = [m if isinstance(m, str) else m.label for m in out]
        if labels[-1] in labels[:-1]:
            raise SpecError(t.path, where, f"{labels[-1]} is listed twice")
    return tuple(out)


def _adaptive_center(m: "_Table", simulation: bool) -> AdaptiveM3:
    """{name = "M3-adaptive", objective = "participation" | "welfare", belief = {λ spec}}."""
    if not simulation:
        raise SpecError(m.path, m.prefix, "M3-adaptive tunes ρ for a population of agents: "
                        "it belongs in a simulation scenario")
    m.allow("name", "objective", "belief")
    objective = m.choice("objective", OBJECTIVES, default="participation")
    if isinstance(m.get("belief", None), dict) and m.data["belief"].get("distribution") == "list":
        raise SpecError(m.path, m.name("belief.distribution"), "a belief is a distribution: "
                        "fixed, lognormal, preset or mixture, not a list of agents")
    belief = _lambdas(m.table("belief"), 1) if "belief" in m.data else None
    return AdaptiveM3(objective, belief)


MAX_ABS_VALUE = 1e12          # values are normalised surpluses; beyond this products overflow
MIN_RELATIVE_WIDTH = 1e-9     # narrower supports lose the value's digits to rounding


def _prior(t: "_Table"):
    family = t.choice("family", tuple(PRIOR_FAMILIES))
    keys = ("family", "low", "high") if family == "uniform" else ("family", "mu", "sigma", "low", "high")
    t.allow(*keys)
    low, high = _support(t)
    if family == "uniform":
        return Uniform(low, high)
    mu = t.number("mu", minimum=-MAX_ABS_VALUE, maximum=MAX_ABS_VALUE)
    sigma = t.number("sigma", minimum=0.0, strict=True)
    width = high - low
    if not MIN_RELATIVE_WIDTH * width <= sigma <= 1e3 * width:
        raise SpecError(t.path, t.name("sigma"), f"must lie between 1e-9 and 1000 times high − low "
                        f"= {width:g} (beyond that use a point mass or the uniform family), got {sigma:g}")
    prior = TruncatedNormal(mu, sigma, low, high) if _mass(mu, sigma, low, high) >= 1e-6 else None
    if prior is None:
        raise SpecError(t.path, t.name("mu"), f"puts less than 1e-6 of the normal's mass on "
                        f"[{low:g}, {high:g}]: move mu or the bounds, got mu = {mu:g}")
    return prior


def _support(t: "_Table") -> tuple[float, float]:
    low = t.number("low", minimum=-MAX_ABS_VALUE, maximum=MAX_ABS_VALUE)
    high = t.number("high", minimum=-MAX_ABS_VALUE, maximum=MAX_ABS_VALUE)
    scale = max(abs(low), abs(high), 1e-300)
    if not high - low > MIN_RELATIVE_WIDTH * scale:
        raise SpecError(t.path, t.name("high"), f"must exceed low = {low:g} by more than 1e-9 of "
                        f"their size, got {high:g}")
    return low, high


def _mass(mu: float, sigma: float, low: float, high: float) -> float:
    from scipy.special import ndtr

    a, b = (low - mu) / sigma, (high - mu) / sigma
    return float(ndtr(-a) - ndtr(-b)) if a > 0 else float(ndtr(b) - ndtr(a))


def _lambdas(t: "_Table", agents: int) -> dict:
    kind = t.choice("distribution", LAMBDA_DISTRIBUTIONS)
    t.string("source", default=None)
    if kind == "fixed":
        t.allow("distribution", "value", "source")
        return {"distribution": kind, "value": t.number("value", minimum=0.0, strict=True)}
    if kind == "lognormal":
        t.allow("distribution", "median", "sigma", "source")
        return {"distribution": kind, "median": t.number("median", minimum=0.0, strict=True),
                "sigma": t.number("sigma", minimum=0.0, maximum=5.0)}
    if kind == "preset":
        from agents.population import PUBLISHED

        t.allow("distribution", "name", "sigma", "source")
        return {"distribution": kind, "name": t.choice("name", tuple(PUBLISHED)),
                "sigma": t.number("sigma", minimum=0.0, maximum=5.0)}
    if kind == "mixture":
        return _mixture(t, agents)
    t.allow("distribution", "values", "source")
    raw = t.get("values")
    if not isinstance(raw, list) or len(raw) != agents:
        raise SpecError(t.path, t.name("values"), f"must list one number > 0 per agent "
                        f"(agents = {agents}), got {len(raw) if isinstance(raw, list) else _kind(raw)}")
    values = [_check_number(t.path, f"{t.name('values')}[{i}]", v, 0.0, None, True)
              for i, v in enumerate(raw)]
    return {"distribution": kind, "values": tuple(values)}


def _mixture(t: "_Table", agents: int) -> dict:
    t.allow("distribution", "components", "source")
    raw = t.get("components")
    if not isinstance(raw, list) or not raw or not all(isinstance(c, dict) for c in raw):
        raise SpecError(t.path, t.name("components"), "must be a non-empty list of tables "
                        "{weight = …, distribution = …, …}")
    parts = []
    for i, item in enumerate(raw):
        c = _Table(dict(item), t.path, f"{t.name('components')}[{i}]")
        weight = c.number("weight", minimum=0.0, maximum=1.0)
        del c.data["weight"]
        if c.get("distribution", None) in ("mixture", "list"):
            raise SpecError(t.path, c.name("distribution"), "a mixture component is fixed, "
                            "lognormal or preset")
        parts.append({"weight": weight, **_lambdas(c, agents)})
    total = sum(p["weight"] for p in parts)
    if abs(total - 1.0) > 1e-9:
        raise SpecError(t.path, t.name("components"), f"weights must sum to 1, got {total:.12g}")
    return {"distribution": "mixture", "components": tuple(parts)}


_MISSING = object()


class _Table:
    """A TOML table with its dotted path, for errors that name the field."""

    def __init__(self, data, path: str, prefix: str) -> None:
        self.data, self.path, self.prefix = data, path, prefix

    def name(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def allow(self, *keys: str) -> None:
        for key in self.data:
            if key not in keys:
                raise SpecError(self.path, self.name(key),
                                f"unknown field (allowed: {', '.join(keys)})")

    def get(self, key: str, default=_MISSING):
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise SpecError(self.path, self.name(key), "missing required field")
        return default

    def table(self, key: str, required: bool = True) -> "_Table":
        raw = self.get(key, _MISSING if required else {})
        if not isinstance(raw, dict):
            raise SpecError(self.path, self.name(key), f"must be a table, got {_kind(raw)}")
        return _Table(raw, self.path, self.name(key))

    def string(self, key: str, default=_MISSING):
        raw = self.get(key, default)
        if raw is not default and not isinstance(raw, str):
            raise SpecError(self.path, self.name(key), f"must be a string, got {_kind(raw)}")
        return raw

    def choice(self, key: str, allowed: tuple, default=_MISSING):
        raw = self.get(key, default)
        if raw is not default and raw not in allowed:
            raise SpecError(self.path, self.name(key), _choice(raw, allowed))
        return raw

    def integer(self, key: str, minimum: int, default=_MISSING):
        raw = self.get(key, default)
        return raw if raw is default else _check_int(self.path, self.name(key), raw, minimum)

    def number(self, key: str, minimum=None, maximum=None, strict=False, default=_MISSING):
        raw = self.get(key, default)
        if raw is default:
            return raw
        return _check_number(self.path, self.name(key), raw, minimum, maximum, strict)


def _check_int(path, name: str, raw, minimum: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise SpecError(path, name, f"must be an integer ≥ {minimum}, got {_kind(raw)} {raw!r}")
    if raw < minimum:
        raise SpecError(path, name, f"must be an integer ≥ {minimum}, got {raw}")
    return int(raw)


def _check_number(path, name: str, raw, minimum, maximum, strict: bool) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise SpecError(path, name, f"must be a finite number, got {_kind(raw)} {raw!r}")
    low_ok = minimum is None or (raw > minimum if strict else raw >= minimum)
    high_ok = maximum is None or raw <= maximum
    if not (low_ok and high_ok):
        lo = "" if minimum is None else f"{'>' if strict else '≥'} {minimum}"
        hi = "" if maximum is None else f"≤ {maximum}"
        raise SpecError(path, name, f"must be {' and '.join(x for x in (lo, hi) if x)}, got {raw}")
    return float(raw)


def _choice(raw, allowed) -> str:
    return f"unknown value {raw!r} (allowed: {', '.join(map(str, allowed))})"


def _kind(raw) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(raw), type(raw).__name__)
