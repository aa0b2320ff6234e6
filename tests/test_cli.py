"""Scenario files and the command line: outputs, overrides, and clear errors for bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from scenarios import spec
from scenarios.cli import main

ROOT = Path(__file__).resolve().parents[1]

STUDY = """
[scenario]
name = "tiny"
kind = "study"
seed = 3

[setting]
type = "trade"
holder_prior = { family = "uniform", low = 0.0, high = 1.0 }
buyer_prior = { family = "truncated_normal", mu = 0.5, sigma = 0.3, low = 0.0, high = 1.0 }

[study]
n = [2, 3]
mechanisms = ["VCG", "AGV", "M1", "M2", {name = "M3", rho = 0.3}, "M3*", "M3+"]
profiles = 3000
chunk_profiles = 1000

[run]
backend = "serial"
"""

SIMULATION = """
[scenario]
name = "tiny_sim"
kind = "simulation"
seed = 4

[setting]
type = "trade"
holder_prior = { family = "uniform", low = 0.0, high = 1.0 }
buyer_prior = { family = "uniform", low = 0.0, high = 1.0 }

[simulation]
agents = 4
lambda = { distribution = "list", values = [1.2, 2.0, 2.5, 3.5] }
center_lambda = 1.5
mechanisms = ["M2", "M3+"]
rounds = 6
replicates = 2
threshold_profiles = 2000

[run]
backend = "serial"
"""


def write(tmp_path, text, name="s.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_study_writes_the_contracted_files(tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(write(tmp_path, STUDY)), "--out", str(out), "--quiet"]) == 0
    for name in ("summary.parquet", "summary.csv", "figure1.png", "figure2.png", "manifest.json"):
        assert (out / name).stat().st_size > 0
    frame = pd.read_parquet(out / "summary.parquet")
    assert list(frame.columns) == ["n", "mechanism", "role", "rho", "profiles", "loss_probability",
                                   "loss_probability_se", "expected_utility", "expected_gain",
                                   "expected_loss", "lambda_star"]
    assert set(frame.mechanism) == {"VCG", "AGV", "M1", "M2", "M3(rho=0.3)", "M3*", "M3+"}
    assert (frame.loc[frame.mechanism == "M3(rho=0.3)", "rho"] == 0.3).all()
    assert frame.loc[frame.mechanism == "M2", "rho"].isna().all()
    csv = pd.read_csv(out / "summary.csv")
    pd.testing.assert_frame_equal(csv, frame, check_dtype=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["scenario_text"] == STUDY
    assert manifest["backend"] == "serial" and manifest["profiles_per_n"] == 3000


def test_overrides_change_the_run(tmp_path):
    out = tmp_path / "out"
    main(["run", str(write(tmp_path, STUDY)), "--out", str(out), "--quiet", "--profiles", "1500",
          "--seed", "8"])
    frame = pd.read_parquet(out / "summary.parquet")
    assert (frame.profiles == 1500).all()
    assert json.loads((out / "manifest.json").read_text())["seed"] == 8


def test_simulation_writes_rounds_summary_and_figure(tmp_path):
    out = tmp_path / "sim"
    assert main(["run", str(write(tmp_path, SIMULATION)), "--out", str(out), "--quiet"]) == 0
    rounds = pd.read_parquet(out / "rounds.parquet")
    assert len(rounds) == 2 * 2 * 6
    for column in ("mechanism", "replicate", "round", "participants", "holder_participation",
                   "welfare", "first_best_welfare", "revenue", "deficit", "participants_with_loss",
                   "center_ran", "markets", "left", "reentered", "unravelled", "seed_key"):
        assert column in rounds.columns
    assert (rounds.deficit >= 0).all()
    assert (rounds.welfare <= rounds.first_best_welfare + 1e-12).all()
    assert (out / "participation.png").stat().st_size > 0
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.mechanism) == ["M2", "M3+"]
    assert (summary.replicates == 2).all()
    per_replicate = pd.read_parquet(out / "replicates.parquet")
    assert len(per_replicate) == 4 and per_replicate.rounds_to_steady.between(1, 7).all()
    agents = pd.read_parquet(out / "agents.parquet")
    # 4 agents, all followed (sample of 100), recorded at the last round (every 10 > 6 rounds).
    assert len(agents) == 2 * 2 * 4 and set(agents["round"]) == {6}
    assert set(agents.role) == {"holder", "buyer"} and set(agents.rule) == {"rational"}


BAD = [
    ("unknown mechanism", ('"M3+"]', '"M3+", "M4"]'), "study.mechanisms[7]", "M4"),
    ("n below two", ("n = [2, 3]", "n = [1, 3]"), "study.n[0]", "≥ 2"),
    ("rho outside", ("rho = 0.3", "rho = 0.7"), "study.mechanisms[4].rho", "≤ 0.5"),
    ("missing field", ("profiles = 3000\n", ""), "study.profiles", "missing"),
    ("wrong type", ("profiles = 3000", 'profiles = "many"'), "study.profiles", "integer"),
    ("typo field", ("profiles = 3000", "profils = 3000"), "study.profils", "unknown field"),
    ("bad prior", ("sigma = 0.3", "sigma = -0.3"), "setting.buyer_prior.sigma", "> 0"),
    ("bad backend", ('backend = "serial"', 'backend = "spark"'), "run.backend", "spark"),
    ("syntax", ("[study]", "[study"), "", "TOML syntax error"),
    ("normal without mu", ("mu = 0.5, ", ""), "setting.buyer_prior.mu", "missing"),
    ("normal sigma zero", ("sigma = 0.3", "sigma = 0.0"), "setting.buyer_prior.sigma", "> 0"),
    ("normal sigma huge", ("sigma = 0.3", "sigma = 1e6"), "setting.buyer_prior.sigma", "1000 times"),
    ("normal mass outside", ("mu = 0.5", "mu = 9.0"), "setting.buyer_prior.mu", "1e-6 of the"),
    ("support too narrow", ("low = 0.0, high = 1.0 }\nbuyer", "low = 1.0, high = 1.0000000000001 }\nbuyer"),
     "setting.holder_prior.high", "1e-9"),
    ("values too large", ("high = 1.0 }\nbuyer", "high = 1e300 }\nbuyer"), "setting.holder_prior.high",
     "≤ 1000000000000"),
    ("duplicate n", ("n = [2, 3]", "n = [2, 3, 3]"), "study.n[2]", "listed twice"),
    ("duplicate mechanism", ('"M3+"]', '"M3+", "M1"]'), "study.mechanisms[7]", "listed twice"),
    ("name with a slash", ('name = "tiny"', 'name = "../escape"'), "scenario.name", "plain folder"),
    ("empty name", ('name = "tiny"', 'name = ""'), "scenario.name", "plain folder"),
    ("newline in a key", ("profiles = 3000", '"bad\\nkey" = 1\nprofiles = 3000'), "study.bad\\nkey",
     "unknown field"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_study_input_is_one_clear_line_and_writes_nothing(case, tmp_path, capsys):
    _, (old, new), field, words = case
    assert old in STUDY
    path = write(tmp_path, STUDY.replace(old, new))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(path) in err and words in err
    if field:
        assert f"field '{field}'" in err
    assert not out.exists()


BAD_SIMULATION = [
    ("negative lambda", ("values = [1.2, 2.0", "values = [-1.2, 2.0"), "simulation.lambda.values[0]"),
    ("zero center lambda", ("center_lambda = 1.5", "center_lambda = 0"), "simulation.center_lambda"),
    ("one agent", ("agents = 4", "agents = 1"), "simulation.agents"),
    ("no replicates", ("replicates = 2", "replicates = 0"), "simulation.replicates"),
    ("unknown distribution", ('distribution = "list"', 'distribution = "pareto"'),
     "simulation.lambda.distribution"),
]


@pytest.mark.parametrize("case", BAD_SIMULATION, ids=[c[0] for c in BAD_SIMULATION])
def test_bad_simulation_input(case, tmp_path):
    _, (old, new), field = case
    with pytest.raises(spec.SpecError) as err:
        spec.load(write(tmp_path, SIMULATION.replace(old, new)))
    assert err.value.field == field


BAD_SIM_EXTRA = [
    ("lambda list too long", ("values = [1.2, 2.0, 2.5, 3.5]", "values = [1.2, 2.0, 2.5, 3.5, 9.0]"),
     "simulation.lambda.values"),
    ("lambda list too short", ("values = [1.2, 2.0, 2.5, 3.5]", "values = [1.2, 2.0]"),
     "simulation.lambda.values"),
    ("source not text", ('distribution = "list"', 'distribution = "list", source = 5'),
     "simulation.lambda.source"),
    ("duplicate mechanism", ('mechanisms = ["M2", "M3+"]', 'mechanisms = ["M2", "M2"]'),
     "simulation.mechanisms[1]"),
]


def test_preset_and_mixture_lambdas_validate(tmp_path):
    mix = ('lambda = { distribution = "mixture", components = ['
           '{ weight = 0.3, distribution = "fixed", value = 0.9 }, '
           '{ weight = 0.7, distribution = "preset", name = "brown_et_al_2024", sigma = 0.2 }] }')
    text = SIMULATION.replace('lambda = { distribution = "list", values = [1.2, 2.0, 2.5, 3.5] }', mix)
    scenario = spec.load(write(tmp_path, text))
    assert [c["weight"] for c in scenario.simulation.lambdas["components"]] == [0.3, 0.7]
    bad = text.replace("weight = 0.7", "weight = 0.6")
    with pytest.raises(spec.SpecError, match="weights must sum to 1"):
        spec.load(write(tmp_path, bad, "b.toml"))
    unknown = text.replace("brown_et_al_2024", "nobody_2030")
    with pytest.raises(spec.SpecError) as err:
        spec.load(write(tmp_path, unknown, "c.toml"))
    assert err.value.field == "simulation.lambda.components[1].name"


@pytest.mark.parametrize("case", BAD_SIM_EXTRA, ids=[c[0] for c in BAD_SIM_EXTRA])
def test_more_bad_simulation_input(case, tmp_path):
    _, (old, new), field = case
    assert old in SIMULATION
    with pytest.raises(spec.SpecError) as err:
        spec.load(write(tmp_path, SIMULATION.replace(old, new)))
    assert err.value.field == field and "\n" not in str(err.value)


def test_files_that_are_not_utf8_or_carry_a_bom(tmp_path, capsys):
    path = tmp_path / "latin.toml"
    path.write_bytes(b"\xff\xfe[scenario]\n")
    assert main(["run", str(path)]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + STUDY.encode())
    assert spec.load(bom).name == "tiny"


def test_rho_minus_zero_is_zero(tmp_path):
    scenario = spec.load(write(tmp_path, STUDY.replace("rho = 0.3", "rho = -0.0")))
    assert scenario.study.mechanisms[4].label == "M3(rho=0)"


@pytest.mark.parametrize("argv, words", [
    (["--profiles", "1e6"], "invalid int value"),
    (["--bogus", "1"], "unrecognized arguments"),
    (["--out", ""], "--out: needs a folder name"),
    (["--backend", "ray", "--address", "garbage"], "invalid Ray address 'garbage'"),
    (["--backend", "ray", "--address", "127.0.0.1:99999"], "invalid Ray address"),
])
def test_bad_command_lines_are_one_line(argv, words, tmp_path, capsys):
    with pytest.raises(SystemExit) if argv[0] in ("--profiles", "--bogus") else _no_exit() as caught:
        code = main(["run", str(write(tmp_path, STUDY))] + argv)
    code = caught.value.code if argv[0] in ("--profiles", "--bogus") else code
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and words in err
    assert not (tmp_path / "results").exists()


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_out_paths_that_cannot_hold_results(tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    assert main(["run", str(write(tmp_path, STUDY)), "--out", str(blocker / "sub")]) == 2
    assert "cannot write results there" in capsys.readouterr().err
    dangling = tmp_path / "dangle"
    dangling.symlink_to(tmp_path / "missing" / "target")
    assert main(["run", str(write(tmp_path, STUDY)), "--out", str(dangling)]) == 2
    assert not (tmp_path / "missing").exists()


def test_a_blocked_target_leaves_the_folder_as_it_was(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "summary.csv").mkdir(parents=True)
    (out / "manifest.json").write_text("old")
    assert main(["run", str(write(tmp_path, STUDY)), "--out", str(out), "--quiet"]) == 2
    assert "is not a file" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "summary.csv"]
    assert (out / "manifest.json").read_text() == "old"


def test_bad_input_leaves_earlier_results_intact(tmp_path):
    out = tmp_path / "out"
    good = write(tmp_path, STUDY)
    assert main(["run", str(good), "--out", str(out), "--quiet"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = write(tmp_path, STUDY.replace("profiles = 3000", "profiles = -3"), "bad.toml")
    assert main(["run", str(bad), "--out", str(out)]) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_bad_override_and_missing_file(tmp_path, capsys):
    assert main(["run", str(write(tmp_path, STUDY)), "--profiles", "0"]) == 2
    assert "--profiles" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_console_script_exits_with_status_2(tmp_path):
    path = write(tmp_path, STUDY.replace('"M3+"]', '"M9"]'))
    proc = subprocess.run([sys.executable, "-m", "scenarios.cli", "run", str(path)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("name", ["paper_trade.toml", "participation_demo.toml"])
def test_shipped_scenarios_validate(name):
    scenario = spec.load(ROOT / "scenarios" / name)
    assert scenario.run.backend == "ray"
    if scenario.kind == "study":
        assert scenario.study.sizes == tuple(range(2, 21))
        assert scenario.study.profiles >= 1_000_000
        assert scenario.study.mechanisms == ("VCG", "AGV", "M1", "M2", "M3*", "M3+")
    else:
        assert scenario.simulation.mechanisms == ("M2", "M3+")
        assert scenario.simulation.replicates == 20
