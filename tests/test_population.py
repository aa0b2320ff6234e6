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


# --- regressions from adversarial testing -----------------------------------------------

def test_limits_are_one_line_refusals_found_fast(tmp_path):
    cases = [
        (POPULATION.replace("rounds = 30", "rounds = 1000000000000"), "simulation.rounds"),
        (POPULATION.replace("market_size = 4\n", "").replace("agents = 60", "agents = 500")
         .replace("holders = 15", "holders = 5"), "simulation.market_size"),
        (POPULATION.replace("agents = 60", "agents = 300000").replace("holders = 15", "holders = 75000")
         .replace('agents = "sample"', 'agents = "all"').replace("every = 5", "every = 10")
         .replace("rounds = 30", "rounds = 100").replace("replicates = 3", "replicates = 4"),
         "simulation.records"),          # 3·10^6 rows per replicate, 2.4·10^7 in the run
    ]
    for k, (text, field) in enumerate(cases):
        with pytest.raises(spec.SpecError) as err:
            spec.load(write(tmp_path, text, f"case{k}.toml"))
        assert err.value.field == field, err.value


def test_rule_shares_and_estimator_options(tmp_path):
    no_adaptive = POPULATION[:POPULATION.index("[simulation.adaptive]")] + "[run]\n"
    zero = no_adaptive.replace("rational = 0.5, adaptive = 0.5", "rational = 1.0, adaptive = 0.0")
    assert spec.load(write(tmp_path, zero)).simulation.rules == (("rational", 1.0), ("adaptive", 0.0))
    with pytest.raises(spec.SpecError, match="only with estimator") as err:
        spec.load(write(tmp_path, POPULATION.replace("retry = 0.05", "retry = 0.05\nprior_weight = 2"), "w.toml"))
    assert err.value.field == "simulation.adaptive.prior_weight"
    with pytest.raises(spec.SpecError, match="got 0.9999999") as err:
        spec.load(write(tmp_path, POPULATION.replace("adaptive = 0.5", "adaptive = 0.4999999"), "s.toml"))


def test_two_adaptive_centers_with_different_beliefs_are_two_mechanisms(tmp_path):
    two = ('mechanisms = [{ name = "M3-adaptive", belief = { distribution = "fixed", value = 2.0 } }, '
           '{ name = "M3-adaptive", belief = { distribution = "lognormal", median = 2.0, sigma = 0.3 } }]')
    text = POPULATION.replace('mechanisms = ["M2", { name = "M3-adaptive", objective = "welfare" }]', two)
    labels = [m.label for m in spec.load(write(tmp_path, text)).simulation.mechanisms]
    assert labels == ["M3-adaptive(participation, belief fixed 2)",
                      "M3-adaptive(participation, belief lognormal 2/0.3)"]
    listed = text.replace('{ distribution = "fixed", value = 2.0 }',
                          '{ distribution = "list", values = [1.5, 2.0] }')
    with pytest.raises(spec.SpecError, match="not a list of agents"):
        spec.load(write(tmp_path, listed, "l.toml"))


def test_manifest_is_strict_json_and_rational_agents_estimate_nothing(tmp_path):
    import json

    text = POPULATION.replace('mechanisms = ["M2", { name = "M3-adaptive", objective = "welfare" }]',
                              'mechanisms = ["VCG"]')
    out = tmp_path / "out"
    assert main(["run", str(write(tmp_path, text)), "--out", str(out), "--quiet"]) == 0

    def refuse(constant):
        raise ValueError(constant)

    manifest = json.loads((out / "manifest.json").read_text(), parse_constant=refuse)
    assert "inf" in json.dumps(manifest["thresholds"])            # VCG's center never loses
    agents = pd.read_parquet(out / "agents.parquet")
    rational = agents[agents.rule == "rational"]
    assert rational.gain_estimate.isna().all() and agents[agents.rule == "adaptive"].gain_estimate.notna().all()


def test_a_tiny_steady_share_still_keeps_the_last_round():
    from scenarios.steady import replicate_summary

    rounds = pd.DataFrame({"mechanism": "M2", "replicate": 0, "round": [1, 2, 3, 4],
                           "participation_rate": [1.0, 0.5, 0.5, 0.25], "welfare": 1.0,
                           "first_best_welfare": 2.0, "revenue": 0.0, "deficit_markets": 0,
                           "markets_run": 1, "unravelled": False, "hot_stove_share": 0.0})
    row = replicate_summary(rounds, share=1e-17).iloc[0]
    assert row.participation_rate == 0.25 and row.efficiency == 0.5 and row.rounds_to_steady == 4
    whole = replicate_summary(rounds.assign(steady_share=1.0, steady_band=0.5)).iloc[0]
    assert whole.participation_rate == 0.5625 and whole.rounds_to_steady == 1


SWEEP = POPULATION.replace("[run]", '''[sweep]
replicates = 2
[sweep.grid]
"simulation.steady_state.share" = [0.1, 1.0]

[run]''').replace("rounds = 30", "rounds = 12")


def test_the_report_uses_each_cells_steady_state_window(tmp_path):
    from scenarios.report import report

    out = tmp_path / "sweep"
    assert main(["run", str(write(tmp_path, SWEEP)), "--out", str(out), "--quiet"]) == 0
    table, _ = report(out)
    chunks = pd.concat(pd.read_parquet(p) for p in sorted((out / "chunks").glob("*.parquet")))
    for cell, share in ((0, 0.1), (1, 1.0)):
        rows = chunks[(chunks.cell == cell) & (chunks.mechanism == "M2")]
        last = rows[rows["round"] > 12 - max(1, round(share * 12))]
        expected = last.groupby("replicate").participation_rate.mean().mean()
        got = table[(table.cell == cell) & (table.mechanism == "M2")].participation_rate_mean
        assert float(got.iloc[0]) == pytest.approx(expected)


@pytest.mark.parametrize("field, words", [("simulation.replicates", "sweep.replicates"),
                                          ("simulation.records.agents", "single runs only")])
def test_sweeps_refuse_fields_they_would_ignore(tmp_path, field, words):
    text = SWEEP.replace('"simulation.steady_state.share" = [0.1, 1.0]', f'"{field}" = [1, 2]')
    with pytest.raises(spec.SpecError, match=words) as err:
        spec.load(write(tmp_path, text))
    assert err.value.field == f"sweep.grid.{field}"


def test_sigterm_unwinds_like_ctrl_c(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    slow = POPULATION.replace("threshold_profiles = 4000", "threshold_profiles = 3000000")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "scenarios.cli", "run", str(write(tmp_path, slow)),
                             "--out", str(out), "--quiet"], stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).parent.parent)
    deadline = time.time() + 60
    while not (out.exists() and any(out.iterdir())) and time.time() < deadline:
        time.sleep(0.2)                       # wait until staging has begun
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err
    assert not out.exists() or not any(out.iterdir())
