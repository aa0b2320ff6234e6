"""Running a sweep: cells × replicate chunks as tasks, each result its own Parquet file.

Layout of the output folder:

    sweep.json                 identity, cells, replicates, planned tasks
    chunks/cell-00003_rep-00008-00011.parquet    one file per finished task
    failures.json              tasks whose model raised (cell, seed key, traceback)

Every chunk file is written to a temporary name and renamed, so a file exists only complete.
A rerun into the same folder skips the chunks that exist: a sweep killed halfway and resumed
gives the dataset of an uninterrupted run, no row missing, none twice.  A rerun with a
different scenario is refused.
"""

from __future__ import annotations

import io
import json
import os
import signal
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from scenarios import simulation
from scenarios.executors import SerialExecutor
from scenarios.sweep import identity, replicate_chunks

KILL_ONCE_ENV = "RISKPART_TEST_KILL_ONCE"    # tests: a worker kills itself once (SIGKILL)


class SweepRefused(RuntimeError):
    """The output folder holds another scenario's sweep."""


@dataclass(frozen=True)
class SweepTask:
    cell: int
    replicates: range

    @property
    def file(self) -> str:
        return f"cell-{self.cell:05d}_rep-{self.replicates.start:05d}-{self.replicates.stop - 1:05d}.parquet"


def plan(scenario) -> list[SweepTask]:
    return [SweepTask(c, reps) for c in range(len(scenario.cells))
            for reps in replicate_chunks(scenario.sweep)]


def work_estimate(scenario) -> str:
    """What the sweep will compute, in the units that drive its cost."""
    reps = scenario.sweep.replicates
    if scenario.kind == "simulation":
        rounds = sum(c.simulation.agents * c.simulation.rounds * len(c.simulation.mechanisms)
                     for _, c in scenario.cells) * reps
        return f"{rounds:,} agent-rounds (plus one threshold table per setting and mechanism)"
    profiles = sum(c.study.profiles * sum(c.study.sizes) for _, c in scenario.cells) * reps
    return f"{profiles:,} agent-profiles per mechanism"


def plan_text(scenario) -> str:
    tasks = plan(scenario)
    names = [k for k, _ in scenario.sweep.grid]
    cells = pd.DataFrame([{"cell": i, **p} for i, (p, _) in enumerate(scenario.cells)])
    return "\n".join([
        f"sweep of {scenario.path} ({scenario.kind}, mode {scenario.sweep.mode}) over {', '.join(names)}",
        cells.to_string(index=False),
        f"cells: {len(scenario.cells)}, replicates per cell: {scenario.sweep.replicates}, "
        f"replicates per task: {min(scenario.sweep.chunk_replicates, scenario.sweep.replicates)}, "
        f"tasks: {len(tasks)}",
        f"work: {work_estimate(scenario)}",
    ])


def sweep_worker(scenario, task: SweepTask, params: dict, tables: dict | None) -> dict:
    """One task's rows as Parquet bytes, or the error that stopped it.

    Pure: same inputs, same bytes.  Encoding here, in the worker, leaves the driver nothing to
    do but write the bytes, so it does not compete with the workers for cores.
    """
    _maybe_die_for_test()
    try:
        rows = _cell_rows(scenario, task, tables)
        columns = {name: column_value(v) for name, v in params.items()}
        for row in rows:
            row.update({"cell": task.cell, **columns})
        buffer = io.BytesIO()
        pd.DataFrame(rows).to_parquet(buffer, index=False)
    except Exception:                                          # reported, never lost
        return {"parquet": None, "error": traceback.format_exc(limit=8),
                "seed_key": f"{scenario.seed}/{task.cell}/{task.replicates.start}"}
    return {"parquet": buffer.getvalue(), "error": None}


def column_value(value):
    """A swept value as a Parquet-safe cell: numbers and text as they are, anything else
    (lists, tables, integers beyond 64 bits) as its JSON text."""
    if isinstance(value, bool) or isinstance(value, float) or isinstance(value, str):
        return value
    if isinstance(value, int) and -2**63 <= value < 2**63:
        return value
    return json.dumps(value, default=str)


def _cell_rows(scenario, task: SweepTask, tables) -> list[dict]:
    if scenario.kind == "simulation":
        jobs = simulation.tasks_for(scenario, task.replicates, key=(task.cell,))
        spec = scenario.simulation        # the report reads each cell's steady-state window
        return [{**row, "steady_share": spec.steady_share, "steady_band": spec.steady_band}
                for job in jobs for row in simulation.run_replicate(
                    job, tables[simulation.mechanism_label(job.mechanism)]).rounds.to_dict("records")]
    from scenarios.runner import study_frame, study_tasks
    from scenarios.study import run_study

    rows = []
    for k in task.replicates:
        frame = study_frame(run_study(study_tasks(scenario, key=(task.cell, k)), SerialExecutor(),
                                      progress=False))
        rows += frame.assign(replicate=k).to_dict("records")
    return rows


def _maybe_die_for_test() -> None:
    marker = os.environ.get(KILL_ONCE_ENV)
    if marker and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)


def check_folder(scenario, out_dir: Path) -> None:
    """Refuse, without writing anything, a folder that holds something else."""
    if (out_dir / "sweep.json").exists():
        if read_meta(out_dir).get("identity") != identity(scenario):
            open_folder(scenario, out_dir)            # raises the full refusal message
    elif out_dir.exists() and not _only_leftovers(out_dir):
        raise SweepRefused(f"{out_dir} is not empty and holds no sweep.json; choose another --out")


def open_folder(scenario, out_dir: Path) -> dict:
    """Create or check the sweep folder; refuses another scenario's results."""
    record = {"identity": identity(scenario), "scenario_file": scenario.path,
              "scenario_text": scenario.text, "kind": scenario.kind,
              "cells": [p for p, _ in scenario.cells], "replicates": scenario.sweep.replicates,
              "chunk_replicates": scenario.sweep.chunk_replicates,
              "seed": scenario.seed, "profiles": _profiles(scenario),
              "tasks": [t.file for t in plan(scenario)]}
    meta = out_dir / "sweep.json"
    from scenarios.sink import _git_commit, _version   # provenance, outside the identity

    record.update(package_version=_version(), git_commit=_git_commit())
    if meta.exists():
        old = read_meta(out_dir)
        if old.get("identity") != record["identity"]:
            raise SweepRefused(
                f"{out_dir} holds results of a different sweep (written from "
                f"{old.get('scenario_file')}; {_difference(old, record)}); refusing to mix "
                "them: choose another --out or remove it")
        (out_dir / "chunks").mkdir(exist_ok=True)
        return old
    if out_dir.exists() and not _only_leftovers(out_dir):
        raise SweepRefused(f"{out_dir} is not empty and holds no sweep.json; choose another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write(meta, json.dumps(record, indent=2, default=str).encode())
    (out_dir / "chunks").mkdir(exist_ok=True)
    return record


def _profiles(scenario):
    spec = scenario.study or scenario.simulation
    return spec.profiles if scenario.study else spec.threshold_profiles


def _difference(old: dict, new: dict) -> str:
    """What changed between the stored sweep and this one, in the user's terms."""
    if old.get("scenario_text") != new["scenario_text"]:
        return f"the scenario text of {new['scenario_file']} differs from the stored one"
    words = {"seed": "--seed", "profiles": "--profiles", "replicates": "--replicates",
             "chunk_replicates": "chunk_replicates"}
    changed = [f"{flag} {new[k]} (stored: {old[k]})" for k, flag in words.items()
               if k in old and old[k] != new[k]]
    return "now run with " + ", ".join(changed) if changed else "the package computes it differently"


def read_meta(out_dir: Path) -> dict:
    """sweep.json, or SweepRefused naming what is wrong with it."""
    try:
        meta = json.loads((out_dir / "sweep.json").read_text())
    except (OSError, ValueError) as err:
        raise SweepRefused(f"{out_dir / 'sweep.json'} is unreadable ({err})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("tasks"), list) or not meta["tasks"]:
        raise SweepRefused(f"{out_dir / 'sweep.json'} is not a sweep record")
    return meta


def _only_leftovers(out_dir: Path) -> bool:
    """True for a folder that a run killed before writing sweep.json left behind."""
    for item in out_dir.iterdir():
        if item.name == "chunks" and item.is_dir() and not any(item.iterdir()):
            continue
        if item.name.startswith("sweep.tmp-"):
            continue
        return False
    return True


def run_sweep(scenario, out_dir: Path, executor, progress: bool = True,
              tables: dict | None = None) -> dict:
    """Run what is missing; returns counts of done, skipped and failed tasks.

    ``tables`` (cell -> threshold tables) skips computing them, for benchmarks.
    """
    out_dir = Path(out_dir)
    open_folder(scenario, out_dir)
    chunks = out_dir / "chunks"
    for stale in chunks.glob("*.tmp-*"):     # left by a run killed while writing
        if not _alive(stale.suffix.rsplit("-", 1)[-1]):
            stale.unlink()
    tasks = plan(scenario)
    todo = pending_tasks(scenario, out_dir)
    if tables is None:
        tables = _tables(scenario, {t.cell for t in todo}, executor)
    jobs = [(scenario.cells[t.cell][1], t, scenario.cells[t.cell][0], tables.get(t.cell))
            for t in todo]
    failures, started = [], time.time()
    for index, result in executor.map(sweep_worker, jobs, desc="sweep", progress=progress,
                                      ordered=False):
        task = todo[index]
        if result["error"] is not None:
            failures.append({"cell": task.cell, "replicates": [task.replicates.start,
                             task.replicates.stop - 1], "seed_key": result["seed_key"],
                             "error": result["error"]})
            continue
        _atomic_write(chunks / task.file, result["parquet"])
    _record_failures(out_dir, failures)
    return {"tasks": len(tasks), "skipped": len(tasks) - len(todo),
            "done": len(todo) - len(failures), "failed": len(failures),
            "wall_s": round(time.time() - started, 3)}


def _tables(scenario, cells: set, executor) -> dict:
    """Threshold tables for the simulation cells that still have work, shared where equal."""
    if scenario.kind != "simulation":
        return {}
    cache, out = {}, {}
    for c in sorted(cells):
        cell = scenario.cells[c][1]
        key = simulation.table_key(cell)
        if key not in cache:
            cache[key] = simulation.tables_for(cell.simulation, cell.holder_prior,
                                               cell.buyer_prior, cell.seed, executor)
        out[c] = cache[key]
    return out


def pending_tasks(scenario, out_dir: Path) -> list[SweepTask]:
    """Tasks whose chunk file is missing or unreadable."""
    return [t for t in plan(scenario) if not readable(Path(out_dir) / "chunks" / t.file)]


def readable(path: Path) -> bool:
    """A finished chunk: present and a complete Parquet file (footer intact)."""
    if not path.is_file():
        return False
    try:
        pq.read_metadata(path)
    except (OSError, ValueError, pa.ArrowException):
        return False
    return True


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _record_failures(out_dir: Path, failures: list) -> None:
    path = out_dir / "failures.json"
    if failures:
        _atomic_write(path, json.dumps(failures, indent=2).encode())
    elif path.exists():
        path.unlink()


def read_dataset(out_dir: Path) -> pd.DataFrame:
    """All finished chunks, in (cell, replicate) order whatever order they were written in."""
    files = [f for f in sorted((Path(out_dir) / "chunks").glob("*.parquet")) if readable(f)]
    if not files:
        return pd.DataFrame()
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    keys = [k for k in ("cell", "mechanism", "replicate", "round", "n", "role") if k in frame]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)
