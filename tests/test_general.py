"""General finite-outcome settings: trade's closed forms reproduced, the paper's theorems as
properties over random finite settings (exact enumeration), the symmetric settings, scenarios
and bad input."""

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from hypothesis import given, settings
from hypothesis import strategies as st

from center import finite
from center import mechanisms as mm
from center.priors import Beta, Discrete, TruncatedNormal, Uniform
from center.trade import TradeSetting
from scenarios import spec
from scenarios.cli import main
from scenarios.executors import SerialExecutor
from scenarios.study import StudyTask, run_study

ROOT = Path(__file__).resolve().parents[1]
GROVES = [mm.VCG(), mm.M1(), mm.M2(), mm.M3(0.0), mm.M3(0.3), mm.M3(0.5)]
SHARES = [mm.M1(), mm.M2(), mm.M3(0.0), mm.M3(0.3), mm.M3(0.5)]
PRIORS = [(Uniform(), Uniform()), (TruncatedNormal(0.4, 0.3, 0, 1), Uniform(0, 1.3)),
          (Beta(2, 3), Beta(0.7, 0.9, 0, 1.2)),
          (Discrete((0.1, 0.4, 0.8), (0.3, 0.3, 0.4)), Discrete((0.0, 0.5, 0.6, 1.0), (0.1, 0.2, 0.3, 0.4)))]


# -- the general path given the trade setting ------------------------------------------------

@pytest.mark.parametrize("priors", PRIORS, ids=["uniform", "normal/uniform", "beta", "discrete"])
@pytest.mark.parametrize("n", [2, 3, 6])
def test_finite_path_reproduces_trade_closed_forms(priors, n, rng):
    trade = TradeSetting(n, *priors)
    general = finite.trade(n, *priors)
    theta = trade.sample(rng, 4000)
    a, b = trade.batch(theta), general.batch(theta)
    for name in ("welfare", "values", "clarke_pivot", "expected_surplus"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=0, atol=1e-13,
                                   err_msg=name)
    for mech in GROVES:
        np.testing.assert_allclose(mech.run(b).utility, mech.run(a).utility, atol=1e-13)


@pytest.mark.parametrize("n", [2, 4])
def test_monte_carlo_agv_tables_match_trade_exact_tables(n, rng):
    trade = TradeSetting(n, TruncatedNormal(0.4, 0.3, 0, 1), Uniform(0, 1.3))
    general = finite.trade(n, trade.holder_prior, trade.buyer_prior)
    theta = trade.sample(rng, 3000)
    got = general.batch(theta).expected_externality
    want = trade.batch(theta).expected_externality
    assert np.abs(got - want).max() < 1e-2          # Monte Carlo: a few 1e-3 of the scale


def test_affine_with_a_discrete_prior_equals_its_value_table():
    prior = Discrete((-0.5, 0.2, 1.0), (0.2, 0.5, 0.3))
    a, b = (0.1, 0.0, -0.2), (1.0, -0.5, 2.0)
    affine = finite.AffineValues(prior, a, b)
    table = finite.TableValues(tuple(map(tuple, np.add(a, np.outer(prior.values, b)))),
                               prior.probabilities)
    other = finite.AffineValues(Uniform(-1, 1), (0.0, 0.3, 0.1), (0.5, 1.0, -1.0))
    s1 = finite.FiniteSetting((affine, other), ("x", "y", "z"))
    s2 = finite.FiniteSetting((table, other), ("x", "y", "z"))
    theta = np.array([[v, u] for v in prior.values for u in (-0.9, 0.0, 0.7)])
    idx = theta.copy()
    idx[:, 0] = np.searchsorted(prior.values, theta[:, 0])
    for name in ("welfare", "values", "expected_surplus", "clarke_pivot", "expected_externality"):
        np.testing.assert_allclose(getattr(s1.batch(theta), name), getattr(s2.batch(idx), name),
                                   atol=1e-12, err_msg=name)


@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 6), n=st.integers(2, 4), seed=st.integers(0, 2**31),
       family=st.sampled_from(["uniform", "normal", "beta"]), tie=st.booleans())
def test_affine_expected_surplus_against_quadrature(k, n, seed, family, tie):
    """E_i for affine values in a continuous type, exact envelope (sorted pairs when the slopes
    are distinct, masked pairs when two are equal) against adaptive quadrature of the max."""
    rng = np.random.default_rng(seed)
    prior = {"uniform": Uniform(-0.5, 1.0), "normal": TruncatedNormal(0.3, 0.4, -0.5, 1.0),
             "beta": Beta(2.0, 3.0, -0.5, 1.0)}[family]
    agents = []
    for _ in range(n):
        slope = rng.uniform(-2, 2, k)
        if tie and k > 1:
            slope[1] = slope[0]
        agents.append(finite.AffineValues(prior, tuple(rng.uniform(-1, 1, k)), tuple(slope)))
    setting = finite.FiniteSetting(tuple(agents), tuple(f"o{j}" for j in range(k)))
    theta = setting.sample(rng, 3)
    got = setting.batch(theta).expected_surplus
    a = np.array([ag.intercept for ag in agents])
    b = np.array([ag.slope for ag in agents])
    for r in range(3):
        for i in range(n):
            others = (a + b * theta[r][:, None]).sum(axis=0) - (a[i] + b[i] * theta[r, i])
            f = lambda x: float(np.max(a[i] + b[i] * x + others)) * float(prior.pdf(x))
            with np.errstate(divide="ignore", invalid="ignore"):
                kinks = [(others[o] + a[i, o] - others[p] - a[i, p]) / (b[i, p] - b[i, o])
                         for o in range(k) for p in range(k) if b[i, p] != b[i, o]]
            kinks = sorted(x for x in kinks if prior.low < x < prior.high)
            want = integrate.quad(f, prior.low, prior.high, points=kinks or None, limit=200,
                                  epsabs=1e-12)[0]
            assert got[r, i] == pytest.approx(want, abs=1e-8)


def test_sorted_and_masked_envelopes_agree(rng):
    k = 8
    agents = tuple(finite.AffineValues(Uniform(0, 1), tuple(rng.uniform(-1, 1, k)),
                                       tuple(rng.uniform(-1, 1, k))) for _ in range(5))
    setting = finite.FiniteSetting(agents, tuple(f"o{j}" for j in range(k)))
    s = setting._arrays
    assert not s["any_tied"]
    c = rng.uniform(-2, 2, (500, 5, k))
    lo1, hi1, keep1 = finite.envelope(c, s)
    cs = np.take_along_axis(c, s["perm"][None], axis=2)
    lo2, hi2, _ = finite.sorted_envelope(cs, s)
    lo1s = np.take_along_axis(np.where(keep1, lo1, 0), s["perm"][None], axis=2)
    hi1s = np.take_along_axis(np.where(keep1, hi1, 0), s["perm"][None], axis=2)
    keep2 = hi2 > lo2
    np.testing.assert_array_equal(keep2, np.take_along_axis(keep1, s["perm"][None], axis=2))
    np.testing.assert_allclose(np.where(keep2, lo2, 0), lo1s, atol=1e-14)
    np.testing.assert_allclose(np.where(keep2, hi2, 0), hi1s, atol=1e-14)


def test_public_project_expected_surplus_closed_form():
    """n = 2, θ uniform on [−1, 1], cost c: E_1 = E[max(0, θ̃ + θ_2 − c)] in closed form."""
    cost = 0.3
    setting = finite.public_project(2, Uniform(-1, 1), cost)
    theta = np.array([[0.2, -0.4], [0.9, 0.8], [-1.0, -1.0], [0.0, 1.0]])
    e = setting.batch(theta).expected_surplus
    s = theta[:, ::-1] - cost                     # the other agent's net value θ_j − c
    # E[(X + s)^+] for X ~ U(−1, 1): ∫_{max(−1, −s)}^{1} (x + s) dx / 2
    lo = np.maximum(-1.0, -s)
    want = np.where(lo < 1, ((1 + s) ** 2 - (lo + s) ** 2) / 4, 0.0)
    np.testing.assert_allclose(e, want, atol=1e-15)


# -- random finite settings with discrete types: the theorems by exact enumeration ------------

@st.composite
def finite_settings(draw, nonnegative=False):
    n = draw(st.integers(2, 3))
    k = draw(st.integers(1, 4))
    lo = 0.0 if nonnegative else -1.0
    value = st.floats(lo, 1.0, allow_nan=False).map(lambda x: round(x, 3))
    agents = []
    for i in range(n):
        m = draw(st.integers(1, 3))
        raw = draw(st.lists(st.integers(1, 9), min_size=m, max_size=m))
        probs = tuple(np.asarray(raw) / sum(raw))
        # Outcome 0 is the status quo, worth 0 to all: the paper's assumption that some outcome
        # has v(θ, o) ≥ 0 (values are normalised to the state without the mechanism).
        values = tuple((0.0,) + tuple(draw(value) for _ in range(k)) for _ in range(m))
        agents.append(finite.TableValues(values, probs, f"a{i}"))
    holder = draw(st.integers(0, n - 1))
    return finite.FiniteSetting(tuple(agents), tuple(f"o{j}" for j in range(k + 1)), holder)


def profiles(setting):
    """Every type profile (P, n) and its probability (P,)."""
    spaces = [range(len(a.values)) for a in setting.agents]
    theta = np.array(list(itertools.product(*spaces)), dtype=float)
    p = np.prod([np.asarray(a.probabilities)[theta[:, i].astype(int)]
                 for i, a in enumerate(setting.agents)], axis=0)
    return theta, p


@settings(max_examples=60, deadline=None)
@given(setting=finite_settings())
def test_groves_mechanisms_are_truthful_in_every_finite_setting(setting):
    theta, _ = profiles(setting)
    batch = setting.batch(theta)
    for mech in GROVES:
        truthful = mech.run(batch).utility
        for i, agent in enumerate(setting.agents):
            for lie in range(len(agent.values)):
                reports = theta.copy()
                reports[:, i] = lie
                b = setting.batch(reports)
                u = b.realised_values(theta) + mech.transfers(b)
                assert (u[:, i] - truthful[:, i]).max() <= 1e-12, (mech.label, i, lie)


@settings(max_examples=60, deadline=None)
@given(setting=finite_settings())
def test_ex_ante_star_ir_shares_and_no_deficit_by_enumeration(setting):
    theta, p = profiles(setting)
    batch = setting.batch(theta)
    ev = p @ batch.welfare
    for mech in SHARES:
        out = mech.run(batch)
        c = mech.coefficients(setting.n, setting.holder)
        for i, agent in enumerate(setting.agents):
            # E over θ̃_i of u_i for each θ_-i: group the profiles by the others' types.
            others = np.delete(theta, i, axis=1)
            keys = [tuple(r) for r in others]
            q = np.asarray(agent.probabilities)[theta[:, i].astype(int)]
            for key in set(keys):
                rows = [r for r, kk in enumerate(keys) if kk == key]
                got = q[rows] @ out.utility[rows, i]
                e = batch.expected_surplus[rows[0], i]
                assert got == pytest.approx((1 - c[i]) * e, abs=1e-12)
                assert got >= -1e-12
        shares = mech.expected_share(setting.n, setting.holder)
        np.testing.assert_allclose(p @ out.utility, shares[:-1] * ev, atol=1e-12)
        assert p @ out.revenue == pytest.approx(shares[-1] * ev, abs=1e-12)
        assert p @ out.revenue >= -1e-12                       # ex ante no deficit


def no_negative_expected_externalities(setting) -> bool:
    """∀i, θ_-i: E over θ̃_i of v_i(θ̃_i, f*(θ_-i)) ≥ 0 (the condition of Theorem 3)."""
    theta, _ = profiles(setting)
    v = setting.values_of(theta)
    s = v.sum(axis=1)
    for i, agent in enumerate(setting.agents):
        best = np.argmax(s - v[:, i], axis=1)               # f*(θ_-i)
        table = np.asarray(agent.values)
        expected = np.asarray(agent.probabilities) @ table[:, best]
        if expected.min() < -1e-12:
            return False
    return True


@settings(max_examples=80, deadline=None)
@given(setting=st.one_of(finite_settings(), finite_settings(nonnegative=True)))
def test_theorem_3_m1_has_no_deficit_ex_post_under_the_condition(setting):
    theta, _ = profiles(setting)
    if not no_negative_expected_externalities(setting):
        return
    revenue = mm.M1().run(setting.batch(theta)).revenue
    assert revenue.min() >= -1e-12


def test_theorem_3_condition_is_not_vacuous():
    """A setting that violates the condition can run a deficit under M1."""
    agents = tuple(finite.TableValues(v, (0.5, 0.5)) for v in (
        ((0.0, 0.6), (0.0, -0.8)), ((0.0, -0.7), (0.0, -0.8)), ((0.0, -0.1), (0.0, 0.5))))
    setting = finite.FiniteSetting(agents, ("no", "yes"))
    assert not no_negative_expected_externalities(setting)
    theta, _ = profiles(setting)
    assert mm.M1().run(setting.batch(theta)).revenue.min() < -0.04


@settings(max_examples=40, deadline=None)
@given(setting=finite_settings())
def test_agv_is_budget_balanced_and_bayes_nash_truthful_with_exact_tables(setting):
    theta, p = profiles(setting)
    batch = setting.batch(theta)
    agv = mm.AGV()
    assert np.abs(agv.transfers(batch).sum(axis=1)).max() < 1e-12
    truthful = agv.run(batch).utility
    for i, agent in enumerate(setting.agents):
        q = np.asarray(agent.probabilities)[theta[:, i].astype(int)]
        for lie in range(len(agent.values)):
            reports = theta.copy()
            reports[:, i] = lie
            b = setting.batch(reports)
            gain = b.realised_values(theta)[:, i] + agv.transfers(b)[:, i] - truthful[:, i]
            # Interim: for each own type, the expectation over the others (weights p / q).
            for t in range(len(agent.values)):
                rows = theta[:, i] == t
                if q[rows].sum() > 0:
                    assert (p[rows] / q[rows]) @ gain[rows] <= 1e-12 * max(1, q[rows].size)


def test_m3_holder_can_be_any_agent(rng):
    setting = finite.public_project(4, Uniform(-1, 1), 0.2, holder=2)
    batch = setting.batch(setting.sample(rng, 100))
    c = mm.M3(0.3).coefficients(setting.n, batch.holder)
    assert c[2] == pytest.approx(0.7) and c[0] == pytest.approx((4 - 2 + 0.6) / 3)
    assert setting.role_columns == (("others", (0, 1, 3)), ("h", (2,)))


def test_single_item_with_no_holder_allocates_to_the_highest_value(rng):
    setting = finite.single_item(5, Uniform())
    theta = setting.sample(rng, 1000)
    batch = setting.batch(theta)
    np.testing.assert_allclose(batch.welfare, theta.max(axis=1))
    assert (batch.outcome == theta.argmax(axis=1) + 1).all()


def test_study_rows_per_agent_in_a_finite_setting():
    scenario = spec.load(ROOT / "scenarios" / "two_companies.toml")
    setting = scenario.setting.make(2)
    tasks = [StudyTask(setting, ("VCG", "AGV", "M1", "M2", "M3*", "M3+"), 4000, 2000, 1)]
    rows = pd.DataFrame(run_study(tasks, SerialExecutor(), progress=False))
    assert list(dict.fromkeys(rows.role)) == ["company A", "company B", "center"]
    m1 = rows[rows.mechanism == "M1"].set_index("role")
    assert abs(m1.expected_utility["company A"]) < 0.01          # M1: zero expected utility
    assert (rows[rows.mechanism == "AGV"].query("role == 'center'").loss_probability == 0).all()


# -- scenario files through the command line --------------------------------------------------

@pytest.mark.parametrize("name", ["two_companies", "public_project", "single_item"])
def test_shipped_general_scenarios_run(name, tmp_path):
    """The shipped files as they are, run on the two smallest n to keep the test short."""
    source = ROOT / "scenarios" / f"{name}.toml"
    full = spec.load(source)
    text = source.read_text()
    if name != "two_companies":
        assert full.study.sizes[:2] == (2, 3)
        text = text.replace("n = [2, 3, 4, 5, 6, 8, 10]", "n = [2, 3]")
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    out = tmp_path / "out"
    args = ["run", str(path), "--out", str(out), "--quiet", "--profiles", "3000",
            "--backend", "serial"]
    assert main(args) == 0
    frame = pd.read_parquet(out / "summary.parquet")
    assert frame.role.iloc[-1] == "center" and (out / "figure1.png").stat().st_size > 0
    assert frame.loss_probability.between(0, 1).all()


FINITE = """
[scenario]
name = "g"
kind = "study"
seed = 1

[setting]
type = "finite"
outcomes = ["x", "y", "z"]
holder = 1
correlation = 0.3

[[setting.agents]]
name = "A"
prior = { family = "uniform", low = 0.0, high = 1.0 }
intercept = [0.0, 0.1, 0.2]
slope = [1.0, 0.0, -0.5]

[[setting.agents]]
name = "B"
prior = { family = "beta", a = 2.0, b = 3.0 }
intercept = [0.3, 0.0, 0.1]
slope = [0.0, 1.0, 0.5]

[study]
mechanisms = ["M1", "M3*"]
profiles = 2000
chunk_profiles = 1000

[run]
backend = "serial"
"""

TABLE = """
[scenario]
name = "t"
kind = "study"
seed = 1

[setting]
type = "finite"
outcomes = ["x", "y"]

[[setting.agents]]
name = "A"
probabilities = [0.5, 0.5]
values = [[0.0, 1.0], [1.0, 0.0]]

[[setting.agents]]
name = "B"
prior = { family = "discrete", values = [0.0, 1.0], probabilities = [0.25, 0.75] }
intercept = [0.0, 0.1]
slope = [1.0, 0.0]

[study]
n = [2]
mechanisms = ["VCG", "M2"]
profiles = 2000

[run]
backend = "serial"
"""

SYMMETRIC = """
[scenario]
name = "p"
kind = "study"
seed = 1

[setting]
type = "public_project"
prior = { family = "uniform", low = -1.0, high = 1.0 }
cost = 0.2
correlation = 0.2

[study]
n = [2, 4]
mechanisms = ["M2"]
profiles = 2000

[run]
backend = "serial"
"""

BAD = [
    ("probabilities do not sum to 1", TABLE, ("probabilities = [0.5, 0.5]", "probabilities = [0.5, 0.4]"),
     "setting.agents[0].probabilities", "sum to 1"),
    ("discrete prior probabilities", TABLE, ("probabilities = [0.25, 0.75] }", "probabilities = [0.25, 0.7] }"),
     "setting.agents[1].prior.probabilities", "sum to 1"),
    ("empty outcome list", TABLE, ('outcomes = ["x", "y"]', "outcomes = []"), "setting.outcomes",
     "non-empty"),
    ("value table row of the wrong length", TABLE, ("[1.0, 0.0]]", "[1.0, 0.0, 2.0]]"),
     "setting.agents[0].values[1]", "2 numbers"),
    ("value table with too few rows", TABLE, ("values = [[0.0, 1.0], [1.0, 0.0]]", "values = [[0.0, 1.0]]"),
     "setting.agents[0].probabilities", "one probability per value"),
    ("slope of the wrong length", FINITE, ("slope = [1.0, 0.0, -0.5]", "slope = [1.0, 0.0]"),
     "setting.agents[0].slope", "3 numbers"),
    ("correlation outside (-1, 1)", FINITE, ("correlation = 0.3", "correlation = 1.0"),
     "setting.correlation", "strictly between"),
    ("correlation matrix not positive definite", SYMMETRIC.replace("n = [2, 4]", "n = [4]"),
     ("correlation = 0.2", "correlation = [[1.0, 0.9, 0.9, 0.0], [0.9, 1.0, 0.0, 0.9], "
      "[0.9, 0.0, 1.0, 0.9], [0.0, 0.9, 0.9, 1.0]]"), "setting.correlation", "not positive definite"),
    ("correlation matrix of the wrong size", SYMMETRIC, ("correlation = 0.2", "correlation = [[1.0, 0.5], "
     "[0.5, 1.0]]"), "setting.correlation", "needs every n to be 2"),
    ("correlation matrix not symmetric", SYMMETRIC.replace("n = [2, 4]", "n = [2]"),
     ("correlation = 0.2", "correlation = [[1.0, 0.5], [0.4, 1.0]]"), "setting.correlation", "symmetric"),
    ("equicorrelation not positive definite", SYMMETRIC, ("correlation = 0.2", "correlation = -0.5"),
     "setting.correlation", "not positive definite"),
    ("correlation with a value table", TABLE, ('outcomes = ["x", "y"]', 'outcomes = ["x", "y"]\ncorrelation = 0.1'),
     "setting.correlation", "value table"),
    ("holder outside", FINITE, ("holder = 1", "holder = 2"), "setting.holder", "agent index"),
    ("finite n mismatch", TABLE, ("n = [2]", "n = [3]"), "study.n", "finite setting has 2"),
    ("unknown setting type", SYMMETRIC, ('type = "public_project"', 'type = "auction"'),
     "setting.type", "auction"),
    ("beta without a", FINITE, ("a = 2.0, ", ""), "setting.agents[1].prior.a", "missing"),
    ("discrete values twice", TABLE, ("values = [0.0, 1.0], prob", "values = [1.0, 1.0], prob"),
     "setting.agents[1].prior.values[1]", "listed twice"),
    # regressions from adversarial testing
    ("correlation at the bound", SYMMETRIC, ("correlation = 0.2", "correlation = 0.99999999999"),
     "setting.correlation", "clear of both ends"),
    ("negative correlation at the bound", SYMMETRIC, ("correlation = 0.2", "correlation = -0.33333333333"),
     "setting.correlation", "4 × 4"),
    ("finite correlation at the bound", FINITE, ("correlation = 0.3", "correlation = -0.99999999999"),
     "setting.correlation", "2 × 2"),
    ("blank agent name", FINITE, ('name = "A"', 'name = " "'), "setting.agents[0].name", "non-blank"),
    ("a name the default takes", FINITE.replace('name = "A"\n', ''), ('name = "B"', 'name = "agent 0"'),
     "setting.agents[1].name", "is taken"),
    ("duplicate type names", TABLE, ("probabilities = [0.5, 0.5]", 'types = ["x", "x"]\nprobabilities = [0.5, 0.5]'),
     "setting.agents[0].types", "distinct"),
    ("an outcome worth 1e12", FINITE, ("intercept = [0.0, 0.1, 0.2]", "intercept = [0.0, 0.1, -1e12]"),
     "setting.agents[0]", "rescale or drop"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_general_input_is_one_line_and_writes_nothing(case, tmp_path, capsys):
    _, text, (old, new), field, words = case
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert str(path) in err and f"field '{field}'" in err and words in err, err
    assert not out.exists()


@pytest.mark.parametrize("text", [FINITE, TABLE, SYMMETRIC], ids=["affine+copula", "table", "symmetric"])
def test_good_general_input_runs(text, tmp_path):
    path = tmp_path / "good.toml"
    path.write_text(text)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    assert (out / "summary.parquet").exists()


def test_simulations_stay_with_trade(tmp_path):
    text = SYMMETRIC.replace('kind = "study"', 'kind = "simulation"')
    path = tmp_path / "sim.toml"
    path.write_text(text)
    with pytest.raises(spec.SpecError) as err:
        spec.load(path)
    assert err.value.field == "setting.type"


def test_correlation_sweep_and_its_figure(tmp_path):
    """A two-cell sweep over setting.correlation, then scripts/figure_correlation.py on it."""
    import subprocess
    import sys

    text = (ROOT / "scenarios" / "correlated_trade.toml").read_text()
    text = text.replace("n = [2, 3, 5, 10]", "n = [2, 3]").replace('backend = "ray"', 'backend = "serial"')
    text = text.replace('"setting.correlation" = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]',
                        '"setting.correlation" = [0.0, 0.6]')
    path = tmp_path / "ct.toml"
    path.write_text(text)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--profiles", "2000"]) == 0
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "figure_correlation.py"), str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out / "correlation.csv")
    assert set(table.correlation) == {0.0, 0.6} and (out / "correlation.png").stat().st_size > 0
    assert {"loss_holder", "loss_buyer", "loss_center", "min_lambda_star"} <= set(table.columns)
    bad = path.read_text().replace("[0.0, 0.6]", "[0.0, 1.5]")
    path.write_text(bad)
    with pytest.raises(spec.SpecError) as err:
        spec.load(path)
    assert err.value.field == "sweep.grid.setting.correlation"
