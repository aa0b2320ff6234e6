"""The population study (paper, section 4): loss probabilities and λ* per (n, mechanism, role).

Work is split into chunks of at most ``chunk_profiles`` profiles; chunk k of population size n
draws its profiles from ``SeedSequence(seed, spawn_key=(n, k))``, so every chunk is the same
whatever executor runs it.  A worker call handles a fixed group of consecutive chunks (set by
the spec, never by the executor) and returns their sums merged in chunk order; the driver merges
the groups in order too, so the rows do not depend on the backend or the worker count.

Pass 1 runs every fixed mechanism and histograms M3's sign changes; if M3* or M3+ is asked for,
pass 2 re-draws the same chunks and gathers the few samples the exact ρ search needs
(center/tuning.py).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

from center import tuning
from center.mechanisms import FIXED, M3, TUNED, m3_affine
from center.statistics import finish, role_labels, role_samples, role_table
from center.trade import TradeSetting

TASK_PROFILES = 131072         # profiles per worker call: keeps scheduling overhead small
COLUMNS = ["n", "mechanism", "role", "rho", "profiles", "loss_probability",
           "loss_probability_se", "expected_utility", "expected_gain", "expected_loss",
           "lambda_star"]


@dataclass(frozen=True)
class StudyTask:
    """Everything a worker needs for one population size n."""

    setting: TradeSetting        # or any setting with the same interface (center/finite.py)
    mechanisms: tuple          # names from FIXED / TUNED, or M3 instances with a fixed ρ
    profiles: int
    chunk_profiles: int
    seed: int
    key: tuple = ()            # spawn-key prefix: (cell, replicate) inside a sweep

    @property
    def chunks(self) -> int:
        return -(-self.profiles // self.chunk_profiles)

    @property
    def groups(self) -> list[range]:
        """Consecutive chunks handled by one worker call: fixed by the spec, never by the
        executor, so the order of floating-point additions is the same on every backend."""
        size = max(1, TASK_PROFILES // self.chunk_profiles)
        return [range(k, min(k + size, self.chunks)) for k in range(0, self.chunks, size)]

    @property
    def tuned(self) -> tuple[str, ...]:
        return tuple(m for m in self.mechanisms if m in TUNED)

    def draw(self, chunk: int):
        size = min(self.chunk_profiles, self.profiles - chunk * self.chunk_profiles)
        seq = np.random.SeedSequence(self.seed, spawn_key=(*self.key, self.setting.n, chunk))
        rng = np.random.default_rng(seq)
        return self.setting.batch(self.setting.sample(rng, size))


def _fixed(name_or_m3):
    return name_or_m3 if isinstance(name_or_m3, M3) else FIXED[name_or_m3]()


def _m3_roles(batch):
    """(role, a, b, w) of M3's affine utilities a + ρ·b, weighted as in role_samples."""
    a_u, b_u, a_rev, b_rev = m3_affine(batch)
    groups, roles = batch.alike_groups, getattr(batch, "role_columns", None)
    for role, (a, w), (b, _) in zip(role_labels(batch),
                                    role_samples(a_u, a_rev, batch.holder, groups, roles),
                                    role_samples(b_u, b_rev, batch.holder, groups, roles)):
        yield role, a, b, w


def first_pass(task: StudyTask, chunks: range) -> dict:
    """``chunk_first_pass`` over consecutive chunks, merged in order."""
    merged = merge_first(chunk_first_pass(task, k) for k in chunks)
    release_freed_memory()
    return merged


def second_pass(task: StudyTask, chunks: range, bins: np.ndarray) -> list[dict]:
    """``chunk_second_pass`` over consecutive chunks, in order."""
    gathered = [chunk_second_pass(task, k, bins) for k in chunks]
    release_freed_memory()
    return gathered


def release_freed_memory() -> None:
    """Hand freed heap pages back to the OS (glibc only; elsewhere a no-op).

    Chunks allocate and free many arrays of a few MB; glibc keeps such freed blocks in its
    heap, so without this the resident size creeps up with the number of chunks processed
    even though the live data stays the same.
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _load_libc()


def chunk_first_pass(task: StudyTask, chunk: int) -> dict:
    """Per-role sums of every fixed mechanism and, if tuning, M3's breakpoint histograms."""
    return batch_first_pass(task, task.draw(chunk))


def batch_first_pass(task: StudyTask, batch) -> dict:
    """``chunk_first_pass`` on a given batch of profiles."""
    tol = task.setting.loss_tolerance
    out = {"fixed": {}, "m3": None}
    for m in task.mechanisms:
        if m in TUNED:
            continue
        mech = _fixed(m)
        outcome = mech.run(batch)
        groups = batch.alike_groups if mech.losers_alike else None
        out["fixed"][mech.label] = role_table(outcome.utility, outcome.revenue, batch.holder,
                                              tol, groups, getattr(batch, "role_columns", None))
    if task.tuned:
        out["m3"] = {}
        for role, a, b, w in _m3_roles(batch):
            out["m3"][role] = tuning.RoleBreakpoints(tol)
            out["m3"][role].add(a, b, w)
    return out


def chunk_second_pass(task: StudyTask, chunk: int, bins: np.ndarray) -> dict:
    """The samples of one chunk whose sign changes fall in ``bins``."""
    batch = task.draw(chunk)
    shifter = tuning.RoleBreakpoints(task.setting.loss_tolerance)
    return {role: shifter.gather(a, b, w, bins) for role, a, b, w in _m3_roles(batch)}


def merge_first(results) -> dict:
    """Merge first-pass results given in chunk order, into fresh (writable) accumulators."""
    merged = None
    for r in results:
        if merged is None:
            merged = {"fixed": {k: np.zeros_like(v) for k, v in r["fixed"].items()}, "m3": None}
            if r["m3"] is not None:
                merged["m3"] = {role: tuning.RoleBreakpoints(d.tolerance) for role, d in r["m3"].items()}
        for k, v in r["fixed"].items():
            merged["fixed"][k] += v
        if r["m3"] is not None:
            for role, data in r["m3"].items():
                merged["m3"][role].add_hists(data)
    return merged


def merge_second(merged_m3: dict, results) -> None:
    for group in results:
        for r in group:
            for role, data in r.items():
                merged_m3[role].add_gathered(data)


def rows_for(task: StudyTask, merged: dict) -> list[dict]:
    """Summary rows for one n: one per (mechanism, role)."""
    rows = []
    for label, table in merged["fixed"].items():
        rho = _rho_of(label, task)
        rows += _rows(task, label, rho, table)
    for name in task.tuned:
        _, rho, _ = tuning.optimise(name, merged["m3"])
        table = np.array([merged["m3"][role].sums(rho) for role in role_labels(task.setting)])
        rows += _rows(task, name, rho, table)
    return rows


def _rho_of(label: str, task: StudyTask):
    for m in task.mechanisms:
        if isinstance(m, M3) and m.label == label:
            return m.rho
    return None


def _rows(task, label, rho, table):
    out = []
    for row in finish(table, task.profiles, role_labels(task.setting)):
        out.append({"n": task.setting.n, "mechanism": label, "rho": rho,
                    "profiles": task.profiles, **row})
    return out


def run_study(tasks: list[StudyTask], executor, progress: bool = True) -> list[dict]:
    """All rows of a study over several population sizes, in (n, mechanism, role) order."""
    rows = []
    for t, m in merged_results(tasks, executor, progress):
        rows += rows_for(t, m)
        m.clear()
    return rows


def merged_results(tasks: list[StudyTask], executor, progress: bool = True):
    """(task, merged sums) per task in order, both passes done; one n at a time in memory."""
    jobs = [(t, g) for t in tasks for g in t.groups]
    results = executor.map(first_pass, jobs, desc="profiles", progress=progress)
    merged = [merge_first(_take(results, len(t.groups))) for t in tasks]   # streams
    refine = [(t, tuning.refine_bins(m["m3"])) for t, m in zip(tasks, merged) if t.tuned]
    jobs = [(t, g, bins) for t, bins in refine for g in t.groups]
    second = executor.map(second_pass, jobs, desc="refine rho", progress=progress) if jobs else None
    for t, m in zip(tasks, merged):       # one n at a time: its gathered samples, then rows
        if t.tuned:
            merge_second(m["m3"], _take(second, len(t.groups)))
        yield t, m


def _take(iterator, count: int):
    """The next ``count`` items, lazily: merging consumes them one at a time."""
    for _ in range(count):
        yield next(iterator)
