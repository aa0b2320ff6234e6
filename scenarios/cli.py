"""Command line: ``riskpart run SCENARIO.toml [options]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scenarios.spec import SpecError, load


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="riskpart", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
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
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        scenario = load(args.scenario).with_overrides(
            profiles=args.profiles, replicates=args.replicates, seed=args.seed,
            backend=args.backend, workers=args.workers, address=args.address)
    except SpecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("results") / scenario.name
    from scenarios.runner import run, terminal_table   # heavy imports only once input is valid

    summary = run(scenario, out, progress=not args.quiet)
    print(terminal_table(summary, scenario.kind))
    print(f"results in {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
