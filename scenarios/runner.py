"""Run a validated scenario end to end: executor → workers → tidy tables → files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd

from center.trade import TradeSetting
from scenarios import figures, simulation, sink, steady
from scenarios.executors import make_executor
from scenarios.study import COLUMNS, StudyTask, run_study


def study_tasks(scenario, key: tuple = ()) -> list[StudyTask]:
    spec = scenario.study
    return [StudyTask(make_setting(scenario, n), spec.mechanisms, spec.profiles,
                      spec.chunk_profiles, scenario.seed, key)
            for n in spec.sizes]


def make_setting(scenario, n: int):
    """The setting of ``scenario`` with n agents (scenarios/setting_spec.py)."""
    if scenario.setting is None:
        return TradeSetting(n, scenario.holder_prior, scenario.buyer_prior)
    return scenario.setting.make(n)


def study_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)[COLUMNS]
    frame["rho"] = frame["rho"].astype(float)
    return frame


def run(scenario, out_dir: Path, progress: bool = True):
    """Run ``scenario`` and write its files into ``out_dir``; returns the summary table
    (for a sweep: the task counts of scenarios.sweep_run.run_sweep)."""
    started = time.time()
    executor = make_executor(scenario.run.backend, scenario.run.address, scenario.run.workers)
    from scenarios.sweep_run import SweepRefused, check_folder, pending_tasks, run_sweep

    if scenario.sweep is not None:
        check_folder(scenario, Path(out_dir))         # refuse a mismatch before starting Ray
        if not pending_tasks(scenario, Path(out_dir)):
            executor = make_executor("serial")        # nothing to run: no need for Ray
        with executor:
            return run_sweep(scenario, out_dir, executor, progress)
    if (Path(out_dir) / "sweep.json").exists():
        raise SweepRefused(f"{out_dir} holds a sweep's results; a single run would mix with "
                           "them: choose another --out")
    with sink.staged(out_dir) as stage, executor:
        if scenario.kind == "study":
            summary = study_frame(run_study(study_tasks(scenario), executor, progress))
            sink.write_table(summary, stage, "summary")
            title = figures.setting_title(scenario.setting)
            figures.figure1(summary, stage / "figure1.png", title)
            figures.figure2(summary, stage / "figure2.png", title)
            extra = {"profiles_per_n": scenario.study.profiles}
        else:
            rounds, agents, replicates, summary, extra = _simulate(scenario, executor, progress)
            sink.write_table(rounds, stage, "rounds")
            sink.write_table(agents, stage, "agents")
            sink.write_table(replicates, stage, "replicates")
            sink.write_table(summary, stage, "summary")
            figures.participation_figure(rounds, stage / "participation.png")
        sink.write_manifest(stage, scenario, started, executor.name,
                            {"effective": effective_settings(scenario), **extra})
    return summary


def effective_settings(scenario) -> dict:
    """What actually ran, command-line overrides included (the scenario text is as written)."""
    spec = scenario.study or scenario.simulation
    local = scenario.run.backend == "ray" and not scenario.run.address
    workers = (scenario.run.workers or os.cpu_count()) if local else (
        1 if scenario.run.backend == "serial" else "the cluster's")
    return {"seed": scenario.seed, "backend": scenario.run.backend,
            "workers": workers, "address": scenario.run.address,
            **{k: v for k, v in vars(spec).items() if k != "lambdas"},
            **({"lambda": spec.lambdas} if scenario.simulation else {})}


def _simulate(scenario, executor, progress):
    spec = scenario.simulation
    tables = simulation.tables_for(spec, scenario.holder_prior, scenario.buyer_prior,
                                   scenario.seed, executor, progress)
    jobs = [(t, tables[simulation.mechanism_label(t.mechanism)])
            for t in simulation.tasks_for(scenario)]
    results = list(executor.map(simulation.run_replicate, jobs, desc="replicates",
                                progress=progress))
    rounds = pd.concat([r.rounds for r in results], ignore_index=True)
    agents = pd.concat([r.agents for r in results], ignore_index=True)
    replicates = steady.replicate_summary(rounds, share=spec.steady_share, band=spec.steady_band)
    extra = {"thresholds": {m: {str(n): v for n, v in t.items()} for m, t in tables.items()}}
    return rounds, agents, replicates, steady.mechanism_summary(replicates), extra


def terminal_table(summary, kind: str) -> str:
    """A short table for the terminal."""
    if isinstance(summary, dict):       # a sweep: task counts
        failed = f", {summary['failed']} failed (see failures.json)" if summary["failed"] else ""
        return (f"sweep of {summary['tasks']} tasks: {summary['done']} run, "
                f"{summary['skipped']} already done{failed}")
    if kind == "study":
        worst = summary.groupby(["mechanism", "n"], sort=False).agg(
            min_lambda_star=("lambda_star", "min"), max_loss=("loss_probability", "max"))
        table = worst.min_lambda_star.unstack("n")
        show = [n for n in (2, 3, 5, 10, 20) if n in table.columns] or list(table.columns[:5])
        table = table[show]
        table.columns = [f"n={n}" for n in show]
        roles = "holder, buyers and center" if set(summary.role) == {"holder", "buyer", "center"} \
            else ", ".join(dict.fromkeys(summary.role))
        return f"smallest lambda* over {roles}:\n" + table.to_string(float_format="%.3f")
    return summary.to_string(index=False, float_format="%.3f")
