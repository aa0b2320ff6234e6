"""Result files: written to a staging folder, then moved into place file by file.

A run that fails leaves the output folder as it was; a run that succeeds replaces only the
files it writes.  Every run writes ``manifest.json`` with its provenance.
"""

from __future__ import annotations

import json
import math
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
    """Yield a staging folder inside ``out_dir``; on success move its files into place.

    Staging inside the target keeps every move on one filesystem (a mount point works).
    Nothing is moved unless every target is a plain file or absent, and manifest.json moves
    last, so it only ever describes files that are there.  If the run fails, the folder is as
    it was (and removed again if this run created it).
    """
    out_dir = Path(out_dir)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    try:
        yield stage
        items = sorted(stage.iterdir(), key=lambda p: (p.name == "manifest.json", p.name))
        blocked = [out_dir / p.name for p in items
                   if (out_dir / p.name).exists() and not (out_dir / p.name).is_file()]
        if blocked:
            raise OSError(f"cannot replace {blocked[0]}: it is not a file")
        for item in items:
            os.replace(item, out_dir / item.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if created and not any(out_dir.iterdir()):
            out_dir.rmdir()


def check_writable(out_dir: Path) -> None:
    """Raise OSError now, before any work, if results could not be written to ``out_dir``."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OSError(f"{out_dir} exists and is not a folder")
    probe_parent = out_dir if out_dir.is_dir() else _existing_parent(out_dir)
    if not os.access(probe_parent, os.W_OK | os.X_OK):
        raise OSError(f"{probe_parent} is not writable")
    with tempfile.TemporaryDirectory(prefix=".probe-", dir=probe_parent):
        pass
    if out_dir.is_symlink() and not out_dir.exists():
        raise OSError(f"{out_dir} is a dangling symbolic link")


def _existing_parent(path: Path) -> Path:
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise OSError(f"{parent} is not a folder")
            return parent
    return Path("/")


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
        "seed_scheme": ("study: SeedSequence(seed, spawn_key=(n, chunk)); simulation: "
                        "SeedSequence(seed, spawn_key=(mechanism index, replicate))"),
        "backend": executor_name,
        "package_version": _version(),
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_seconds": round(time.time() - started, 3),
        **extra,
    }
    text = json.dumps(strict_json(manifest), indent=2, default=str, allow_nan=False)
    (stage / "manifest.json").write_text(text + "\n")


def strict_json(value):
    """The value with non-finite floats as strings ("inf", "-inf") or null (NaN): standard
    JSON has no Infinity, and λ* is infinite for a role that never loses."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


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
