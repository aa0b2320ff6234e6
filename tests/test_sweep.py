"""Sweeps: exactly-once datasets across backends, chunkings, kills and resumes."""

import json
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from scenarios import spec, sweep_run
from scenarios.cli import main
from scenarios.executors import RayExecutor, SerialExecutor

SWEEP = """
[scenario]
name = "sweep_test"
kind = "simulation"
seed = 5

[setting]
type = "trade"
holder_prior = { family = "uniform", low = 0.0, high = 1.0 }
buyer_prior = { family = "uniform", low = 0.0, high = 1.0 }

[simulation]
agents = 4
lambda = { distribution = "lognormal", median = 1.955, sigma = 0.4 }
center_lambda = 1.0
mechanisms = ["M2", "M3+"]
rounds = 8
replicates = 1
threshold_profiles = 3000

[run]
backend = "serial"

[sweep]
replicates = REPS
chunk_replicates = CHUNK

[sweep.grid]
"simulation.lambda.median" = [1.31, 2.25]
"simulation.center_lambda" = [1.0, 3.0]
"""


def scenario_file(tmp_path, reps=4, chunk=2, text=SWEEP, name="sweep.toml"):
    path = tmp_path / name
    path.write_text(text.replace("REPS", str(reps)).replace("CHUNK", str(chunk)))
    return path


def run(path, out, executor=None):
    scenario = spec.load(path)
    with executor or SerialExecutor() as ex:
        return sweep_run.run_sweep(scenario, out, ex, progress=False)


def dataset(out):
    return sweep_run.read_dataset(out).drop(columns=["seed_key"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reference")
    run(scenario_file(tmp, chunk=2), tmp / "out")
    return sweep_run.read_dataset(tmp / "out")


def test_grid_expands_to_validated_cells(tmp_path):
    scenario = spec.load(scenario_file(tmp_path))
    assert [p for p, _ in scenario.cells] == [
        {"simulation.lambda.median": m, "simulation.center_lambda": c}
        for m in (1.31, 2.25) for c in (1.0, 3.0)]
    assert scenario.cells[3][1].simulation.lambdas["median"] == 2.25
    assert scenario.cells[3][1].simulation.center_lambda == 3.0
    assert len(sweep_run.plan(scenario)) == 4 * 2


def test_reference_dataset_is_complete_and_tidy(reference):
    assert len(reference) == 4 * 2 * 4 * 8          # cells × mechanisms × replicates × rounds
    assert not reference.duplicated(["cell", "mechanism", "replicate", "round"]).any()
    assert set(reference.columns) >= {"cell", "simulation.lambda.median", "seed_key",
                                      "participation_rate", "replicate", "round"}


def test_chunk_size_does_not_change_the_dataset(tmp_path, reference):
    run(scenario_file(tmp_path, chunk=3), tmp_path / "out")
    pd.testing.assert_frame_equal(sweep_run.read_dataset(tmp_path / "out"), reference)


@pytest.mark.ray
@pytest.mark.parametrize("workers", [1, 2])
def test_ray_gives_the_serial_dataset(tmp_path, reference, workers):
    run(scenario_file(tmp_path, chunk=1), tmp_path / "out", RayExecutor(workers=workers))
    pd.testing.assert_frame_equal(sweep_run.read_dataset(tmp_path / "out"), reference)


@pytest.mark.ray
def test_a_killed_ray_worker_is_retried_and_nothing_is_lost(tmp_path, reference, monkeypatch):
    marker = tmp_path / "killed"
    monkeypatch.setenv(sweep_run.KILL_ONCE_ENV, str(marker))
    counts = run(scenario_file(tmp_path, chunk=2), tmp_path / "out", RayExecutor(workers=2))
    assert marker.exists()                         # a worker really died (SIGKILL)
    assert counts["failed"] == 0
    pd.testing.assert_frame_equal(sweep_run.read_dataset(tmp_path / "out"), reference)


@pytest.mark.ray
def test_two_node_cluster_gives_the_serial_dataset(tmp_path, reference):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        cluster.wait_for_nodes()
        import ray

        with RayExecutor(address=cluster.address) as ex:
            alive = [n for n in ray.nodes() if n["Alive"]]
            assert len(alive) == 2 and all(n["NodeManagerAddress"] == "127.0.0.1" for n in alive)
            sweep_run.run_sweep(spec.load(scenario_file(tmp_path, chunk=1)), tmp_path / "out",
                                ex, progress=False)
    finally:
        cluster.shutdown()
    pd.testing.assert_frame_equal(sweep_run.read_dataset(tmp_path / "out"), reference)


def test_resume_after_the_driver_is_killed(tmp_path, reference):
    path = scenario_file(tmp_path, chunk=1)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "scenarios.cli", "run", str(path), "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "chunks").glob("*.parquet"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = len(list((out / "chunks").glob("*.parquet")))
    assert 3 <= written < 16, "the kill should land mid-sweep"
    counts = run(path, out)
    assert counts["skipped"] == written and counts["done"] == 16 - written
    assert not list((out / "chunks").glob("*.tmp-*"))
    pd.testing.assert_frame_equal(sweep_run.read_dataset(out), reference)


def test_a_changed_scenario_is_refused_and_nothing_is_touched(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(scenario_file(tmp_path)), "--out", str(out), "--quiet"]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    changed = scenario_file(tmp_path, text=SWEEP.replace("seed = 5", "seed = 6"), name="b.toml")
    assert main(["run", str(changed), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "different sweep" in err and "scenario text" in err
    assert main(["run", str(scenario_file(tmp_path)), "--out", str(out), "--quiet",
                 "--seed", "6", "--replicates", "3"]) == 2
    assert "now run with --seed 6 (stored: 5), --replicates 3 (stored: 4)" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    # The same scenario again is a no-op resume.
    assert main(["run", str(scenario_file(tmp_path)), "--out", str(out), "--quiet"]) == 0
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_a_model_error_is_reported_with_its_cell_and_seed(tmp_path, monkeypatch, capsys):
    real = sweep_run.simulation.run_replicate

    def flaky(task, tables):
        if task.key == (2,) and task.replicate == 1:
            raise RuntimeError("model blew up")
        return real(task, tables)

    monkeypatch.setattr(sweep_run.simulation, "run_replicate", flaky)
    out = tmp_path / "out"
    assert main(["run", str(scenario_file(tmp_path)), "--out", str(out), "--quiet"]) == 1
    failures = json.loads((out / "failures.json").read_text())
    assert [(f["cell"], f["replicates"]) for f in failures] == [(2, [0, 1])]
    assert "model blew up" in failures[0]["error"] and failures[0]["seed_key"] == "5/2/0"
    assert len(list((out / "chunks").glob("*.parquet"))) == 7      # the other tasks are kept
    monkeypatch.setattr(sweep_run.simulation, "run_replicate", real)
    assert main(["run", str(scenario_file(tmp_path)), "--out", str(out), "--quiet"]) == 0
    assert not (out / "failures.json").exists()
    assert len(list((out / "chunks").glob("*.parquet"))) == 8


def test_report_on_a_partial_dataset(tmp_path, capsys):
    out = tmp_path / "out"
    main(["run", str(scenario_file(tmp_path)), "--out", str(out), "--quiet"])
    for f in sorted((out / "chunks").glob("cell-0000[01]*"))[:3]:
        f.unlink()
    assert main(["report", str(out)]) == 0
    assert "5 of 8 tasks complete (62%)" in capsys.readouterr().out
    table = pd.read_csv(out / "report" / "summary.csv")
    assert set(table.columns) >= {"participation_rate_mean", "participation_rate_ci_low",
                                  "efficiency_ci_high", "replicates"}
    assert (table.participation_rate_ci_low <= table.participation_rate_mean + 1e-12).all()
    assert (out / "report" / "simulation.center_lambda.png").exists()


def test_plan_prints_cells_and_tasks(tmp_path, capsys):
    assert main(["plan", str(scenario_file(tmp_path, reps=10, chunk=4))]) == 0
    text = capsys.readouterr().out
    assert "cells: 4, replicates per cell: 10, replicates per task: 4, tasks: 12" in text
    assert "2,560 agent-rounds" in text


BAD = [
    ("unknown grid field", ('"simulation.center_lambda" = [1.0, 3.0]', '"simulation.centre" = [1.0]'),
     "sweep.grid.simulation.centre"),
    ("bad grid value", ('"simulation.center_lambda" = [1.0, 3.0]', '"simulation.center_lambda" = [1.0, -3.0]'),
     "sweep.grid.simulation.center_lambda"),
    ("empty list", ('"simulation.center_lambda" = [1.0, 3.0]', '"simulation.center_lambda" = []'),
     "sweep.grid.simulation.center_lambda"),
    ("no replicates", ("replicates = REPS", "replicates = 0"), "sweep.replicates"),
    ("unknown sweep field", ("chunk_replicates = CHUNK", "chunk_replicates = 2\nrepeats = 3"),
     "sweep.repeats"),
]


def test_zip_pairs_lists_and_needs_equal_lengths(tmp_path, capsys):
    text = SWEEP.replace("chunk_replicates = CHUNK", 'chunk_replicates = 2\nmode = "zip"')
    scenario = spec.load(scenario_file(tmp_path, text=text))
    assert [tuple(p.values()) for p, _ in scenario.cells] == [(1.31, 1.0), (2.25, 3.0)]
    bad = text.replace("[1.0, 3.0]", "[1.0, 3.0, 4.0]")
    assert main(["plan", str(scenario_file(tmp_path, text=bad, name="z.toml"))]) == 2
    assert "zip mode needs lists of equal length" in capsys.readouterr().err


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_sweeps_are_one_line_and_write_nothing(case, tmp_path, capsys):
    _, (old, new), field = case
    path = scenario_file(tmp_path, text=SWEEP.replace(old, new))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"field '{field}'" in err and str(path) in err
    assert not out.exists()


def test_empty_grid_is_refused(tmp_path, capsys):
    text = SWEEP.split("[sweep.grid]")[0]
    assert main(["plan", str(scenario_file(tmp_path, text=text))]) == 2
    assert "sweep.grid" in capsys.readouterr().err


def test_unreachable_cluster_is_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    path = scenario_file(tmp_path)
    assert main(["run", str(path), "--out", str(out), "--backend", "ray",
                 "--address", "127.0.0.1:9"]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot reach the Ray cluster at 127.0.0.1:9" in err and len(err.splitlines()) == 1
    assert not out.exists()


STUDY_SWEEP = """
[scenario]
name = "study_sweep"
kind = "study"
seed = 3

[setting]
type = "trade"
holder_prior = { family = "uniform", low = 0.0, high = 1.0 }
buyer_prior = { family = "uniform", low = 0.0, high = 1.0 }

[study]
n = [2, 4]
mechanisms = ["M1", "M3+"]
profiles = 2000
chunk_profiles = 1000

[sweep]
mode = "zip"
replicates = 3
chunk_replicates = 2

[sweep.grid]
"setting.buyer_prior.high" = [1.0, 1.5]
"setting.holder_prior" = [{ family = "uniform", low = 0.0, high = 1.0 },
                          { family = "truncated_normal", mu = 0.5, sigma = 0.2, low = 0.0, high = 1.0 }]
"""


def test_study_sweeps_replicate_studies_and_report_them(tmp_path, capsys):
    path = tmp_path / "study.toml"
    path.write_text(STUDY_SWEEP)
    scenario = spec.load(path)
    assert scenario.cells[1][1].buyer_prior.high == 1.5
    assert scenario.cells[1][1].holder_prior.sigma == 0.2
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--backend", "serial"]) == 0
    data = sweep_run.read_dataset(out)
    assert len(data) == 2 * 3 * 2 * 2 * 3          # cells × replicates × n × mechanisms × roles
    # Replicates are independent draws: their loss probabilities differ.
    m1 = data[(data.mechanism == "M1") & (data.role == "holder") & (data.n == 2) & (data.cell == 0)]
    assert m1.loss_probability.nunique() == 3
    assert main(["report", str(out)]) == 0
    table = pd.read_csv(out / "report" / "summary.csv")
    assert {"loss_probability_mean", "lambda_star_ci_high", "n", "role"} <= set(table.columns)
    assert (table.replicates == 3).all()


def test_table_and_list_values_and_big_seeds_become_columns(tmp_path):
    text = SWEEP.replace('"simulation.center_lambda" = [1.0, 3.0]',
                         '"simulation.mechanisms" = [["M2", {name = "M3", rho = 0.3}]]\n'
                         '"scenario.seed" = [100000000000000000000000]')
    out = tmp_path / "out"
    assert main(["run", str(scenario_file(tmp_path, reps=1, text=text)), "--out", str(out), "--quiet"]) == 0
    data = sweep_run.read_dataset(out)
    assert set(data.mechanism) == {"M2", "M3(rho=0.3)"}
    assert json.loads(data["simulation.mechanisms"].iloc[0]) == ["M2", {"name": "M3", "rho": 0.3}]
    assert data["scenario.seed"].iloc[0] == "100000000000000000000000"


def test_leftovers_of_a_run_killed_before_sweep_json_are_a_fresh_start(tmp_path, reference):
    out = tmp_path / "out"
    (out / "chunks").mkdir(parents=True)
    (out / "sweep.tmp-999999").write_text("partial")
    run(scenario_file(tmp_path, chunk=2), out)
    pd.testing.assert_frame_equal(sweep_run.read_dataset(out), reference)


def test_a_truncated_chunk_is_redone_and_a_missing_chunks_folder_recreated(tmp_path, reference):
    out = tmp_path / "out"
    path = scenario_file(tmp_path, chunk=2)
    run(path, out)
    victim = sorted((out / "chunks").glob("*.parquet"))[3]
    victim.write_bytes(victim.read_bytes()[:200])
    assert run(path, out)["done"] == 1
    pd.testing.assert_frame_equal(sweep_run.read_dataset(out), reference)
    for f in (out / "chunks").iterdir():
        f.unlink()
    (out / "chunks").rmdir()
    assert run(path, out)["done"] == 8


@pytest.mark.parametrize("content", ['{"identity": ', "[]", '{"tasks": []}'])
def test_a_damaged_sweep_json_is_one_line(content, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "sweep.json").write_text(content)
    assert main(["run", str(scenario_file(tmp_path)), "--out", str(out), "--quiet"]) == 2
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("sweep.json" in line for line in err)


def test_report_folder_that_is_a_file(tmp_path, capsys):
    out = tmp_path / "out"
    main(["run", str(scenario_file(tmp_path)), "--out", str(out), "--quiet"])
    (out / "report").write_text("x")
    assert main(["report", str(out)]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_overrides_may_not_replace_swept_fields(tmp_path, capsys):
    text = SWEEP.replace('"simulation.center_lambda" = [1.0, 3.0]', '"scenario.seed" = [1, 2]')
    assert main(["plan", str(scenario_file(tmp_path, text=text)), ]) == 0
    assert main(["run", str(scenario_file(tmp_path, text=text)), "--seed", "9"]) == 2
    assert "would override the swept field scenario.seed" in capsys.readouterr().err


def test_a_field_swept_twice_is_refused(tmp_path, capsys):
    text = SWEEP + "[sweep.grid.simulation]\ncenter_lambda = [5.0]\n"
    assert main(["plan", str(scenario_file(tmp_path, text=text))]) == 2
    assert "is swept twice" in capsys.readouterr().err


def test_a_single_run_into_a_sweep_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    main(["run", str(scenario_file(tmp_path)), "--out", str(out), "--quiet"])
    single = tmp_path / "single.toml"
    single.write_text(SWEEP.split("[sweep]")[0])
    assert main(["run", str(single), "--out", str(out), "--quiet"]) == 2
    assert "holds a sweep's results" in capsys.readouterr().err
    assert not (out / "manifest.json").exists()


def test_the_grid_may_supply_a_field_the_base_lacks(tmp_path):
    text = SWEEP.replace("center_lambda = 1.0\n", "")
    scenario = spec.load(scenario_file(tmp_path, text=text))
    assert [c.simulation.center_lambda for _, c in scenario.cells] == [1.0, 3.0, 1.0, 3.0]


def test_replicates_are_bounded_and_address_needs_ray(tmp_path, capsys):
    assert main(["plan", str(scenario_file(tmp_path, reps=10**9))]) == 2
    assert "sweep.replicates" in capsys.readouterr().err
    assert main(["run", str(scenario_file(tmp_path)), "--address", "127.0.0.1:6379"]) == 2
    assert "needs --backend ray" in capsys.readouterr().err


def test_simulation_streams_never_meet_the_threshold_study_streams():
    from scenarios.simulation import ReplicateTask
    from scenarios.study import StudyTask
    from center.trade import TradeSetting

    replicate = ReplicateTask("M2", 2, 0, 7, None, None, None)
    study = StudyTask(TradeSetting(2), ("M2",), 10, 10, 7)
    assert replicate.spawn_key != (*study.key, 2, 0)


def test_a_port_that_is_not_ray_fails_within_the_deadline(tmp_path, monkeypatch, capsys):
    import socket
    import threading

    from scenarios.executors import CONNECT_TIMEOUT_ENV

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []
    threading.Thread(target=lambda: [held.append(server.accept()) for _ in range(8)],
                     daemon=True).start()
    monkeypatch.setenv(CONNECT_TIMEOUT_ENV, "8")
    port = server.getsockname()[1]
    start = time.time()
    code = main(["run", str(scenario_file(tmp_path)), "--out", str(tmp_path / "out"),
                 "--backend", "ray", "--address", f"127.0.0.1:{port}"])
    assert code == 2 and time.time() - start < 60
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"127.0.0.1:{port}" in err
    assert not (tmp_path / "out").exists()
    server.close()


def test_a_mistake_in_the_base_file_is_reported_without_cell_context(tmp_path, capsys):
    text = SWEEP.replace('backend = "serial"', 'backend = "serial"\nbogus = 1')
    assert main(["plan", str(scenario_file(tmp_path, text=text))]) == 2
    err = capsys.readouterr().err
    assert "field 'run.bogus'" in err and "sweep cell" not in err
