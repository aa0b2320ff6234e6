"""Population scenarios end to end: validation, outputs, determinism across backends."""

from pathlib import Path

import pandas as pd
import pytest

from scenarios import spec
from scenarios.cli import main

POPULATION = """
[scenario]
name = "tiny_population"
kind = "simulation"
seed = 11

[setting]
type = "trade"
holder_prior = { family = "uniform", low = 0.0, high = 1.0 }
buyer_prior = { family = "uniform", low = 0.0, high = 1.0 }

[simulation]
agents = 60
market_size = 4
roles = "fixed"
holders = 15
rules = { rational = 0.5, adaptive = 0.5 }
lambda = { distribution = "preset", name = "brown_et_al_2024", sigma = 0.3 }
center_lambda = 1.2
mechanisms = ["M2", { name = "M3-adaptive", objective = "welfare" }]
rounds = 30
replicates = 3
threshold_profiles = 4000

[simulation.adaptive]
estimator = "ewma"
alpha = 0.2
prior_gain = 0.05
prior_loss = 0.01
retry = 0.05

[simulation.records]
agents = "sample"
sample = 10
every = 5

[run]
backend = "serial"
"""


def write(tmp_path: Path, text: str, name: str = "pop.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


BAD = [
    ("unknown rule", ("rules = { rational = 0.5, adaptive = 0.5 }", 'rule = "greedy"'),
     "simulation.rule", "greedy"),
    ("unknown rule share", ("rational = 0.5, adaptive", "rational = 0.5, clever"),
     "simulation.rules.clever", "unknown field"),
    ("shares not summing to one", ("rational = 0.5, adaptive = 0.5", "rational = 0.5, adaptive = 0.6"),
     "simulation.rules", "sum to 1"),
    ("share above one", ("rational = 0.5, adaptive = 0.5", "rational = 1.5"), "simulation.rules.rational", "≤ 1"),
    ("lambda zero", ('lambda = { distribution = "preset", name = "brown_et_al_2024", sigma = 0.3 }',
                     'lambda = { distribution = "fixed", value = 0.0 }'), "simulation.lambda.value", "> 0"),
    ("lambda median negative", ('lambda = { distribution = "preset", name = "brown_et_al_2024", sigma = 0.3 }',
                                'lambda = { distribution = "lognormal", median = -2, sigma = 0.3 }'),
     "simulation.lambda.median", "> 0"),
    ("market larger than population", ("market_size = 4", "market_size = 61"),
     "simulation.market_size", "cannot form"),
    ("too many holders", ("holders = 15", "holders = 58"), "simulation.holders", "buyers"),
    ("holders with rotating roles", ('roles = "fixed"', 'roles = "rotating"'), "simulation.holders",
     "only with"),
    ("unknown role mode", ('roles = "fixed"', 'roles = "random"'), "simulation.roles", "random"),
    ("retry above one", ("retry = 0.05", "retry = 1.5"), "simulation.adaptive.retry", "≤ 1"),
    ("retry negative", ("retry = 0.05", "retry = -0.1"), "simulation.adaptive.retry", "≥ 0"),
    ("alpha zero", ("alpha = 0.2", "alpha = 0.0"), "simulation.adaptive.alpha", "> 0"),
    ("unknown estimator", ('estimator = "ewma"', 'estimator = "bayes"'),
     "simulation.adaptive.estimator", "bayes"),
    ("no prior belief", ("prior_gain = 0.05\n", ""), "simulation.adaptive.prior_gain", "missing"),
    ("adaptive without its table", ("[simulation.adaptive]", "[simulation.adaptivity]"),
     "simulation.adaptivity", "unknown field"),
    ("unknown objective", ('objective = "welfare"', 'objective = "profit"'),
     "simulation.mechanisms[1].objective", "profit"),
    ("unknown record mode", ('agents = "sample"', 'agents = "some"'), "simulation.records.agents", "some"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_population_input_is_one_clear_line_and_writes_nothing(case, tmp_path, capsys):
    _, (old, new), field, words = case
    assert old in POPULATION
    path = write(tmp_path, POPULATION.replace(old, new))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(path) in err and words in err and f"field '{field}'" in err
    assert not out.exists()


def test_adaptive_agents_need_a_stated_prior_belief(tmp_path):
    text = POPULATION[:POPULATION.index("[simulation.adaptive]")] + "[run]\nbackend = \"serial\"\n"
    with pytest.raises(spec.SpecError, match="stated prior belief") as err:
        spec.load(write(tmp_path, text))
    assert err.value.field == "simulation.adaptive"
    rational = text.replace("rules = { rational = 0.5, adaptive = 0.5 }", 'rule = "rational"')
    assert spec.load(write(tmp_path, rational, "r.toml")).simulation.rules == (("rational", 1.0),)


def test_agent_rows_are_bounded(tmp_path):
    big = POPULATION.replace("agents = 60", "agents = 100000").replace(
        "holders = 15", "holders = 25000").replace('agents = "sample"', 'agents = "all"').replace(
        "every = 5", "every = 1").replace("rounds = 30", "rounds = 100")
    with pytest.raises(spec.SpecError, match="agent rows per replicate") as err:
        spec.load(write(tmp_path, big))
    assert err.value.field == "simulation.records"


def test_the_adaptive_center_is_refused_in_a_study(tmp_path):
    from tests.test_cli import STUDY

    text = STUDY.replace('"M3+"]', '"M3+", { name = "M3-adaptive" }]')
    with pytest.raises(spec.SpecError, match="belongs in a simulation"):
        spec.load(write(tmp_path, text))


def run_dir(tmp_path, name, *extra):
    out = tmp_path / name
    assert main(["run", str(write(tmp_path, POPULATION)), "--out", str(out), "--quiet", *extra]) == 0
    return {k: pd.read_parquet(out / f"{k}.parquet") for k in ("rounds", "agents", "replicates", "summary")}


def test_population_outputs_hold_together(tmp_path):
    files = run_dir(tmp_path, "serial")
    rounds, agents = files["rounds"], files["agents"]
    assert len(rounds) == 2 * 3 * 30
    assert (rounds.participants == (rounds.participation_rate * 60).round()).all()
    assert (rounds.markets_run <= rounds.markets).all() and (rounds.markets <= 15).all()
    # Markets among the joiners are matched differently from the everyone-in benchmark, so a
    # round may beat it by luck; in expectation it cannot (same i.i.d. types, fewer markets).
    assert rounds.welfare.sum() <= rounds.first_best_welfare.sum()
    # 10 followed agents, recorded at rounds 5, 10, ..., 30.
    assert len(agents) == 2 * 3 * 10 * 6 and sorted(set(agents["round"])) == [5, 10, 15, 20, 25, 30]
    assert set(agents.rule) == {"rational", "adaptive"}
    last = agents[agents["round"] == 30]
    assert (last.markets <= 30).all() and (last.losses <= last.markets).all()
    assert len(files["replicates"]) == 6 and list(files["summary"].mechanism) == [
        "M2", "M3-adaptive(welfare)"]


@pytest.mark.ray
def test_same_rows_on_every_backend_and_worker_count(tmp_path):
    serial = run_dir(tmp_path, "serial")
    one = run_dir(tmp_path, "ray1", "--backend", "ray", "--workers", "1")
    two = run_dir(tmp_path, "ray2", "--backend", "ray", "--workers", "2")
    for name in serial:
        pd.testing.assert_frame_equal(serial[name], one[name], check_exact=True)
        pd.testing.assert_frame_equal(serial[name], two[name], check_exact=True)


@pytest.mark.parametrize("name", ["population_meta_analysis", "population_hot_stove",
                                  "population_large"])
def test_shipped_population_scenarios_validate(name):
    scenario = spec.load(Path(__file__).parent.parent / "scenarios" / f"{name}.toml")
    assert scenario.kind == "simulation" and scenario.simulation.rounds >= 100
