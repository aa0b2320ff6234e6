"""Sweeps: a ``[sweep]`` grid over any scenario field, expanded into validated cells.

```toml
[sweep]
mode = "product"             # product (every combination) | zip (the lists side by side)
replicates = 20              # per cell (and per mechanism of a simulation)
chunk_replicates = 4         # replicates per task and per result file
[sweep.grid]
"simulation.center_lambda" = [1.0, 2.25]
"simulation.lambda.median" = [1.31, 1.955, 2.25]
```

Each cell is the scenario with the grid's values written into its fields, validated by the
same parser as any scenario: a field that does not exist or a value that is not allowed is
reported as ``sweep.grid.<field>``.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass

from scenarios.spec import SpecError, _Table

MODES = ("product", "zip")
MAX_REPLICATES = 10_000_000
OVERRIDDEN_FIELDS = {"seed": ("scenario.seed",),
                     "profiles": ("study.profiles", "simulation.threshold_profiles")}


@dataclass(frozen=True)
class SweepSpec:
    mode: str
    replicates: int
    chunk_replicates: int
    grid: tuple            # ((dotted field, (values...)), ...)


def parse_sweep(raw, path) -> SweepSpec:
    t = _Table(raw, str(path), "sweep") if isinstance(raw, dict) else None
    if t is None:
        raise SpecError(path, "sweep", "must be a table")
    t.allow("mode", "replicates", "chunk_replicates", "grid")
    grid = _flatten(t.get("grid"), "", path) if isinstance(t.get("grid"), dict) else None
    if not grid:
        raise SpecError(path, "sweep.grid", "must be a non-empty table of field = [values, ...]")
    for name, values in grid:
        if name.split(".")[0] in ("sweep", "run"):
            raise SpecError(path, f"sweep.grid.{name}", "the grid sweeps scenario fields; "
                            "[sweep] and [run] cannot be swept")
        if name == "simulation.replicates":
            raise SpecError(path, f"sweep.grid.{name}", "a sweep runs sweep.replicates "
                            "replicates in every cell: set that instead")
        if name.startswith("simulation.records"):
            raise SpecError(path, f"sweep.grid.{name}", "a sweep keeps one row per round; "
                            "per-agent records come from single runs only")
        if not isinstance(values, list) or not values:
            raise SpecError(path, f"sweep.grid.{name}", "must be a non-empty list of values")
    mode = t.choice("mode", MODES, default="product")
    if mode == "zip" and len({len(v) for _, v in grid}) > 1:
        raise SpecError(path, "sweep.grid", "zip mode needs lists of equal length, got "
                        + ", ".join(f"{k}: {len(v)}" for k, v in grid))
    replicates = t.integer("replicates", minimum=1, default=1)
    if replicates > MAX_REPLICATES:
        raise SpecError(path, "sweep.replicates", f"must be ≤ {MAX_REPLICATES:,}, got {replicates:,}")
    return SweepSpec(mode=mode, replicates=replicates,
                     chunk_replicates=t.integer("chunk_replicates", minimum=1, default=4),
                     grid=tuple((k, tuple(v)) for k, v in grid))


def _flatten(table: dict, prefix: str, path=None) -> list:
    out = []
    for key, value in table.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            out += _flatten(value, name, path)
        else:
            out.append((name, value))
    names = [n for n, _ in out]
    for i, name in enumerate(names):
        clash = [other for other in names[:i]
                 if other == name or other.startswith(name + ".") or name.startswith(other + ".")]
        if clash:
            raise SpecError(path, f"sweep.grid.{name}", f"is swept twice (also as {clash[0]})")
    return out


def combinations(sweep: SweepSpec) -> list[dict]:
    """The swept values of every cell, in cell order."""
    names = [k for k, _ in sweep.grid]
    lists = [v for _, v in sweep.grid]
    rows = itertools.product(*lists) if sweep.mode == "product" else zip(*lists)
    return [dict(zip(names, row)) for row in rows]


def cell_data(base: dict, params: dict, path) -> dict:
    """The scenario data of one cell: ``base`` with ``params`` written into dotted fields."""
    data = copy.deepcopy(base)
    for name, value in params.items():
        *parents, leaf = name.split(".")
        node = data
        for i, key in enumerate(parents):
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise SpecError(path, f"sweep.grid.{name}",
                                f"'{'.'.join(parents[:i + 1])}' is not a table")
        node[leaf] = value
    return data


def expand(data: dict, path, text: str, parse) -> tuple[SweepSpec, tuple]:
    """Validate the sweep and every cell; returns (spec, ((params, Scenario), ...))."""
    sweep = parse_sweep(data["sweep"], path)
    base = {k: v for k, v in data.items() if k != "sweep"}
    cells = []
    for params in combinations(sweep):
        try:
            cells.append((params, parse(cell_data(base, params, path), path, text)))
        except SpecError as err:
            swept = [k for k in params if err.field == k or err.field.startswith(k + ".")
                     or k.startswith(err.field + ".") or err.field.startswith(k + "[")]
            if swept:
                raise SpecError(path, f"sweep.grid.{swept[0]}",
                                f"{err.message} (value {params[swept[0]]!r})") from None
            if _fails_alone(base, path, text, parse, err.field):
                raise err from None                   # the base file's own mistake
            raise SpecError(path, err.field, f"{err.message} (in the sweep cell {params})") from None
    return sweep, tuple(cells)


def check_overrides(sweep: SweepSpec, path, changes: dict) -> None:
    """A command-line override must not silently replace a swept field's values."""
    swept = [k for k, _ in sweep.grid]
    for option, fields in OVERRIDDEN_FIELDS.items():
        if changes.get(option) is None:
            continue
        for name in swept:
            if any(name == f or f.startswith(name + ".") for f in fields):
                raise SpecError(path, f"--{option}", f"would override the swept field {name}; "
                                "change the grid instead")


def _fails_alone(base: dict, path, text: str, parse, field: str) -> bool:
    """Does the unswept scenario fail on this same field by itself?"""
    try:
        parse(base, path, text)
    except SpecError as err:
        return err.field == field
    return False


def identity(scenario) -> str:
    """A fingerprint of everything that decides a sweep's rows; resume refuses a mismatch."""
    payload = [scenario.sweep, [(p, c.seed, c.study, c.simulation, c.holder_prior, c.buyer_prior)
                                + _setting_identity(c) for p, c in scenario.cells]]
    return hashlib.sha256(json.dumps(payload, default=repr, sort_keys=True).encode()).hexdigest()


def _setting_identity(cell) -> tuple:
    """Anything beyond the two trade priors that decides the rows (empty for plain trade, so
    that sweeps written before general settings existed keep their identity)."""
    setting = getattr(cell, "setting", None)
    plain = (type(setting).__name__ == "TradeSpec" and setting.correlation is None)
    return () if setting is None or plain else (setting,)


def replicate_chunks(sweep: SweepSpec) -> list[range]:
    size = sweep.chunk_replicates
    return [range(k, min(k + size, sweep.replicates)) for k in range(0, sweep.replicates, size)]
