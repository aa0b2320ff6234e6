"""Result files: written to a staging folder, then moved into place file by file.

A run that fails leaves the output folder as it was; a run that succeeds replaces only the
files it writes.  Every run writes ``manifest.json`` with its provenance.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import pandas as pd


@contextmanager
def staged(out_dir: Path):
    """Yield a staging folder; on success move its files into ``out_dir``."""
    out_dir = Path(out_dir)
    parent = out_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=parent))
    try:
        yield stage
        out_dir.mkdir(parents=True, exist_ok=True)
        for item in sorted(stage.iterdir()):
            os.replace(item, out_dir / item.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def write_table(frame: pd.DataFrame, stage: Path, stem: str) -> None:
    frame.to_parquet(stage / f"{stem}.parquet", index=False)
    frame.to_csv(stage / f"{stem}.csv", index=False)


def write_manifest(stage: Path, scenario, started: float, executor_name: str, extra: dict) -> None:
    manifest = {
        "scenario": scenario.name,
        "scenario_file": scenario.path,
        "scenario_text": scenario.text,
        "kind": scenario.kind,
        "seed": scenario.seed,
        "seed_scheme": "SeedSequence(seed, spawn_key=(cell, chunk or replicate))",
        "backend": executor_name,
        "package_version": _version(),
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_seconds": round(time.time() - started, 3),
        **extra,
    }
    (stage / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")


def _version() -> str:
    try:
        return metadata.version("riskpart")
    except metadata.PackageNotFoundError:
        return "unknown"


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
