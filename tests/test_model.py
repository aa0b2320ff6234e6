"""The Mesa participation model: rational joins follow the static study's thresholds exactly,
adaptive agents learn the rational values, the fixed point and the accounting hold."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.best_response import desire, settle
from agents.learning import AdaptiveSpec
from center.matching import form_markets
from center.priors import Uniform
from scenarios.model import ParticipationModel
from scenarios.records import RecordSpec
from scenarios.spec import SimulationSpec
from scenarios.thresholds import threshold_table

U = Uniform(0, 1)


@pytest.fixture(scope="module")
def tables():
    return {m: threshold_table(m, range(2, 7), U, U, 20_000, seed=1) for m in ("M1", "M2", "M3+")}


def spec(agents, market_size=0, **changes):
    base = SimulationSpec(agents=agents, lambdas={"distribution": "fixed", "value": 1.0},
                          center_lambda=0.5, mechanisms=("M2",), rounds=5, replicates=1,
                          market_size=market_size, holders=max(1, agents // (market_size or agents)),
                          records=RecordSpec("none"))
    return replace(base, **changes)


def model(lambdas, mechanism, table, seed=0, **changes):
    s = spec(len(lambdas), **changes)
    return ParticipationModel(s, mechanism, table, U, U, np.random.default_rng(seed),
                              lambdas=np.asarray(lambdas, float))


def run(m, rounds=5):
    for _ in range(rounds):
        m.step()
    return m.datacollector.get_model_vars_dataframe()


@pytest.mark.parametrize("mechanism", ["M2", "M3+"])
@pytest.mark.parametrize("size", [2, 4, 6])
def test_homogeneous_agents_join_exactly_below_the_static_threshold(tables, mechanism, size):
    t = tables[mechanism][size]
    lam_star = min(t["holder"], t["buyer"])
    everyone_in = run(model([lam_star] * size, mechanism, tables[mechanism]))
    assert (everyone_in.participants == size).all() and (everyone_in.holder_participation == 1).all()
    assert (everyone_in.fixed_point_sweeps == 1).all()
    just_above = np.nextafter(lam_star, np.inf)
    out = run(model([just_above] * size, mechanism, tables[mechanism]))
    assert (out.participants < size).all()


def test_m1_drives_away_every_loss_averse_agent_and_unravels(tables):
    frame = run(model([1.2] * 5, "M1", tables["M1"], center_lambda=1.0))
    assert (frame.participants == 0).all() and not frame.center_ran.any()
    assert frame.unravelled.all() and (frame.welfare == 0).all()
    assert (frame.first_best_welfare > 0).any()


def test_a_cascade_of_leavers_unravels_m3_plus(tables):
    """λ* of M3+ grows with n: once the most loss-averse buyer leaves, the next can't stay."""
    t = tables["M3+"]
    assert t[2]["buyer"] < t[3]["buyer"] < t[4]["buyer"] < t[5]["buyer"]
    lambdas = [t[2]["holder"] + 0.01, t[5]["buyer"] - 0.01, t[4]["buyer"] + 0.01,
               t[3]["buyer"] + 0.01, t[5]["buyer"] + 0.01]
    frame = run(model(lambdas, "M3+", t), 1)
    assert frame.participants.iloc[0] == 0 and frame.unravelled.iloc[0]
    assert frame.fixed_point_changes.iloc[0] == 5 and frame.fixed_point_sweeps.iloc[0] >= 2


def test_heterogeneous_joiners_are_exactly_those_below_their_threshold(tables):
    """A large population stays saturated, so each agent faces the full market of n."""
    table, n = tables["M3+"], 5
    lambdas = np.random.default_rng(3).lognormal(np.log(2.9), 0.1, 2000)
    m = model(lambdas, "M3+", table, market_size=n)
    run(m, 2)
    pop = m.population
    limit = np.where(pop.is_holder, table[n]["holder"], table[n]["buyer"])
    np.testing.assert_array_equal(pop.joined, lambdas <= limit)
    assert 0.2 < pop.joined.mean() < 0.8              # the test separates something


def test_a_reluctant_holder_stops_all_trade(tables):
    table = tables["M2"]
    frame = run(model([table[5]["holder"] + 0.5] + [1.0] * 4, "M2", table))
    assert (frame.participants == 0).all() and (frame.holder_participation == 0).all()


def test_utilities_and_revenue_add_up_to_welfare(tables):
    m = model(np.full(40, 1.0), "M2", tables["M2"], market_size=5)
    for _ in range(20):
        before = m.population.cumulative.copy()
        m.step()
        paid = m.population.cumulative - before
        assert paid.sum() + m.revenue == pytest.approx(m.welfare, abs=1e-9)
        assert m.markets == 8 and m.welfare <= m.first_best_welfare + 1e-12


def test_rotating_roles_use_the_mixed_threshold(tables):
    t, n = tables["M2"][5], 5
    mixed = (t["gain"]["holder"] + 4 * t["gain"]["buyer"]) / (t["loss"]["holder"] + 4 * t["loss"]["buyer"])
    lambdas = np.array([mixed - 1e-9] * 60 + [mixed + 1e-9] * 40)
    m = model(lambdas, "M2", tables["M2"], market_size=n, roles="rotating", holders=0)
    run(m, 3)
    np.testing.assert_array_equal(m.population.joined, lambdas <= mixed)
    assert m.markets == 12 and np.isnan(m.holder_participation)


def test_same_seed_same_history(tables):
    a = run(model(np.linspace(1, 3, 30), "M3+", tables["M3+"], seed=5, market_size=5), 10)
    b = run(model(np.linspace(1, 3, 30), "M3+", tables["M3+"], seed=5, market_size=5), 10)
    assert a.equals(b)


def adaptive(**kw):
    return replace(spec(1), rules=(("adaptive", 1.0),), adaptive=AdaptiveSpec(**kw)).adaptive


def test_adaptive_estimates_converge_to_the_rational_values_when_they_never_leave(tables):
    """λ so small that nobody leaves: each sample mean converges to E[x⁺], E[x⁻] of its role."""
    n = 5
    table = threshold_table("M2", range(2, n + 1), U, U, 400_000, seed=2)
    prior, weight, rounds = 0.1, 1.0, 200
    learner = adaptive(estimator="mean", prior_gain=prior, prior_loss=prior, prior_weight=weight,
                       retry=0.0)
    m = model(np.full(1000, 1e-6), "M2", table, market_size=n, rules=(("adaptive", 1.0),),
              adaptive=learner)
    run(m, rounds)
    assert m.population.joined.all() and (m.population.markets == rounds).all()
    b = m.population.beliefs

    def expected(true):          # the prior counts as ``weight`` observations
        return (weight * prior + rounds * true) / (weight + rounds)

    # 40,000 holder and 160,000 buyer observations: within 2.5% (several standard errors).
    for role, agents in (("holder", m.population.is_holder), ("buyer", ~m.population.is_holder)):
        assert b.gain[agents].mean() == pytest.approx(expected(table[n]["gain"][role]), rel=0.025)
        assert b.loss[agents].mean() == pytest.approx(expected(table[n]["loss"][role]), rel=0.025)


def learners_near_their_threshold(table, retry, agents=500, rounds=60):
    """EWMA learners with λ at 90% of their role's λ*: a rational agent would stay in."""
    n = 5
    lambdas = np.full(agents, 0.9 * table[n]["buyer"])
    lambdas[:agents // 5] = 0.9 * table[n]["holder"]
    learner = adaptive(estimator="ewma", alpha=0.5, prior_gain=0.1, prior_loss=0.0, retry=retry)
    return run(model(lambdas, "M2", table, market_size=n, rules=(("adaptive", 1.0),),
                     adaptive=learner), rounds)


def test_hot_stove_agents_who_never_retry_stay_out(tables):
    """They leave after bad draws and, learning nothing while out, never come back."""
    frame = learners_near_their_threshold(tables["M2"], retry=0.0)
    assert (frame.reentered == 0).all()
    assert (np.diff(frame.hot_stove_out) >= 0).all() and frame.hot_stove_out.iloc[-1] > 50
    assert frame.hot_stove_share.iloc[-1] == frame.hot_stove_out.iloc[-1] / 500


def test_retries_bring_agents_back(tables):
    frame = learners_near_their_threshold(tables["M2"], retry=0.2, agents=300)
    assert frame.reentered.sum() > 0 and frame.left.sum() >= frame.reentered.sum()


# --- the vectorised fixed point against the plain sequential loop ------------------------

def sequential_reference(offer, lam, is_holder, joined, rational, rng):
    """One agent at a time, as Mesa's shuffle_do(\"decide\") would do it."""
    for sweep in range(1, 101):
        changes = 0
        for i in rng.permutation(rational):
            h = int(np.count_nonzero(joined & is_holder))
            b = int(np.count_nonzero(joined & ~is_holder))
            want = bool(desire(offer, lam[i:i + 1], is_holder[i:i + 1], joined[i:i + 1], h, b)[0])
            if want != joined[i]:
                joined[i] = want
                changes += 1
        if changes == 0:
            return sweep
    return 101


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), agents=st.integers(2, 40), n=st.integers(2, 6),
       rotating=st.booleans(), spread=st.floats(0.05, 1.0))
def test_vectorised_best_responses_match_the_sequential_loop(tables, seed, agents, n, rotating, spread):
    n = min(n, agents)
    rng = np.random.default_rng(seed)
    lam = rng.lognormal(np.log(2.6), spread, agents)
    m = model(lam, "M3+", tables["M3+"], market_size=n, roles="rotating" if rotating else "fixed",
              holders=0 if rotating else max(1, agents // n))
    pop = m.population
    start = rng.random(agents) < 0.7
    a, b = start.copy(), start.copy()
    sweeps = settle(m.offer, pop.lam, pop.is_holder, a, pop.rational, np.random.default_rng(seed))
    ref = sequential_reference(m.offer, pop.lam, pop.is_holder, b, pop.rational,
                               np.random.default_rng(seed))
    np.testing.assert_array_equal(a, b)
    assert sweeps[0] == ref


@given(seed=st.integers(0, 1000), agents=st.integers(2, 60), n=st.integers(2, 7),
       holders=st.integers(1, 20), rotating=st.booleans())
def test_markets_use_each_member_once_with_a_holder_first(seed, agents, n, holders, rotating):
    rng = np.random.default_rng(seed)
    n, holders = min(n, agents), min(holders, agents - 1)
    is_holder = np.zeros(agents, bool)
    is_holder[:holders] = True
    joined = rng.random(agents) < 0.6
    markets = form_markets(rng.permutation(agents), joined, None if rotating else is_holder, n)
    used = np.concatenate([m.ravel() for m in markets]) if markets else np.zeros(0, int)
    assert len(np.unique(used)) == len(used) and joined[used].all()
    assert all(2 <= m.shape[1] <= n for m in markets)
    assert sum(m.shape[1] < n for m in markets) <= 1
    if not rotating:
        for m in markets:
            assert is_holder[m[:, 0]].all() and not is_holder[m[:, 1:]].any()
        left_h = joined & is_holder & ~np.isin(np.arange(agents), used)
        left_b = joined & ~is_holder & ~np.isin(np.arange(agents), used)
        assert not (left_h.any() and left_b.any())       # nobody who could trade sits out
    else:
        assert joined.sum() - len(used) == (1 if joined.sum() % n == 1 else 0)


# --- the adaptive center -------------------------------------------------------------------

def _objective(entry, size, objective, cdf, center_lambda, welfare_with):
    from center.adaptive import expected_participation, expected_welfare, mixed_threshold

    lam = {r: np.array([entry[r]]) for r in ("holder", "buyer", "center")}
    lam["mixed"] = mixed_threshold(entry["gain"]["holder"], entry["loss"]["holder"],
                                   entry["gain"]["buyer"], entry["loss"]["buyer"], size)
    runs = center_lambda <= lam["center"]
    if objective == "participation":
        return float(expected_participation(lam, runs, cdf, size, False)[0])
    return float(expected_welfare(lam, runs, cdf, size, False, welfare_with)[0])


@pytest.mark.parametrize("objective", ["participation", "welfare"])
@pytest.mark.parametrize("median", [2.0, 2.8, 3.5])
def test_adaptive_center_beats_m3_plus_on_its_own_objective(objective, median):
    from agents.population import lambda_cdf
    from center.adaptive import AdaptiveM3, first_best_welfare
    from center.mechanisms import M3

    belief = {"distribution": "lognormal", "median": median, "sigma": 0.2}
    cdf = lambda x: lambda_cdf(belief, x)                         # noqa: E731
    sizes, center_lambda = range(2, 6), 1.5
    adaptive = threshold_table(AdaptiveM3(objective), sizes, U, U, 20_000, 3,
                               center_lambda=center_lambda, belief_cdf=cdf)
    plus = threshold_table("M3+", sizes, U, U, 20_000, 3)
    welfare_with = first_best_welfare(U, U, 5)
    for n in sizes:
        assert 0.0 <= adaptive[n]["rho"] <= 0.5
        got = _objective(adaptive[n], n, objective, cdf, center_lambda, welfare_with)
        assert got >= _objective(plus[n], n, objective, cdf, center_lambda, welfare_with)
        for rho in (0.0, 0.1, 0.25, 0.4, 0.5):          # grid edges: candidates too
            fixed = threshold_table(M3(rho), [n], U, U, 20_000, 3)[n]
            assert got >= _objective(fixed, n, objective, cdf, center_lambda, welfare_with) - 1e-12


def test_first_best_welfare_closed_forms():
    from center.adaptive import first_best_welfare

    # Uniform holder and buyers on [0, 1]: E[(max of k − θ_h)⁺] = k / (2(k + 1)(k + 2))·… :
    # computed directly, ∫ x (1 − x^k) dx = 1/2 − 1/(k + 2).
    w = first_best_welfare(U, U, 6)
    k = np.arange(7)
    np.testing.assert_allclose(w, 0.5 - 1 / (k + 2), rtol=1e-12, atol=1e-15)
