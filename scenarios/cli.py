"""riskpart: efficient mechanisms with risky participation (run, plan, report)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from scenarios.spec import SpecError, load


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit status 2."""

    def error(self, message: str):
        print(f"error: {self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="riskpart", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run a scenario file")
    run.add_argument("scenario", help="path to a scenario TOML file")
    run.add_argument("--out", help="output folder (default: results/<scenario name>)")
    run.add_argument("--backend", help="ray (default) or serial")
    run.add_argument("--address", help="Ray cluster address (else RAY_ADDRESS, else a local instance)")
    run.add_argument("--workers", type=int, help="worker processes of the local Ray instance")
    run.add_argument("--profiles", type=int, help="profiles per n (study) or for the thresholds")
    run.add_argument("--replicates", type=int, help="replicates per mechanism (simulation)")
    run.add_argument("--seed", type=int, help="root seed")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    plan = sub.add_parser("plan", help="print a sweep's cells, tasks and work without running")
    plan.add_argument("scenario")
    plan.add_argument("--replicates", type=int, help="replicates per cell")
    plan.add_argument("--profiles", type=int, help="profiles per n (study) or for the thresholds")
    plan.add_argument("--seed", type=int, help="root seed")
    report = sub.add_parser("report", help="summarise a sweep's results folder (complete or not)")
    report.add_argument("folder")
    return parser


def main(argv=None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:             # the reader (`| head`) went away: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "report":
            return _report(Path(args.folder))
        overrides = {k: getattr(args, k, None) for k in
                     ("profiles", "replicates", "seed", "backend", "workers", "address")}
        scenario = load(args.scenario).with_overrides(**overrides)
        if args.command == "plan":
            return _plan(scenario)
        return _run(scenario, args)
    except SpecError as err:
        return _fail(err)


def _run(scenario, args) -> int:
    from scenarios.executors import ClusterUnreachable   # heavy imports once input is valid
    from scenarios.runner import run, terminal_table
    from scenarios.sink import check_writable
    from scenarios.sweep_run import SweepRefused

    if args.out is not None and not args.out.strip():
        return _fail("--out: needs a folder name")
    if scenario.run.address and scenario.run.backend != "ray":
        return _fail("--address: joins a Ray cluster, so it needs --backend ray")
    out = Path(args.out) if args.out else Path("results") / scenario.name
    try:
        check_writable(out)
    except OSError as err:
        return _fail(f"--out {out}: cannot write results there ({err})")
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        summary = run(scenario, out, progress=not args.quiet)
    except (ClusterUnreachable, SweepRefused) as err:
        return _fail(err)
    except KeyboardInterrupt:
        kept = ("finished chunks are kept; rerun the same command to resume"
                if scenario.sweep is not None else "nothing was written")
        print(f"interrupted: {kept}", file=sys.stderr)
        return 130
    except OSError as err:          # results could not be put in place
        kept = ("finished chunks are kept; rerun to resume" if scenario.sweep is not None
                else "the folder is unchanged")
        return _fail(f"--out {out}: cannot write results there ({err}); {kept}")
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(terminal_table(summary, scenario.kind))
    print(f"results in {out}/")
    return 1 if scenario.sweep is not None and summary.get("failed") else 0


def _terminated(signum, frame):
    """SIGTERM (timeout, a job scheduler) unwinds like Ctrl-C: staging is removed."""
    raise KeyboardInterrupt


def _plan(scenario) -> int:
    from scenarios.sweep_run import plan_text

    if scenario.sweep is None:
        return _fail(f"{scenario.path}: has no [sweep] table; plan describes sweeps")
    print(plan_text(scenario))
    return 0


def _report(folder: Path) -> int:
    if not (folder / "sweep.json").exists():
        return _fail(f"{folder}: no sweep.json here; report reads the folder a sweep wrote")
    from scenarios.report import report
    from scenarios.sweep_run import SweepRefused

    try:
        table, status = report(folder)
    except (SweepRefused, OSError) as err:
        return _fail(err)
    print(status)
    if not table.empty:
        print(f"summary in {folder / 'report' / 'summary.csv'} ({len(table)} rows)")
    return 0


def _fail(err) -> int:
    print(f"error: {err}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
