"""The Mesa participation model: joins follow the static study's thresholds exactly."""

import numpy as np
import pytest

from center.priors import Uniform
from scenarios.model import ParticipationModel
from scenarios.thresholds import threshold_table

U = Uniform(0, 1)


@pytest.fixture(scope="module")
def tables():
    return {m: threshold_table(m, range(2, 7), U, U, 20_000, seed=1) for m in ("M1", "M2", "M3+")}


def model(lambdas, mechanism, table, center_lambda=1.0, seed=0):
    return ParticipationModel(np.asarray(lambdas, float), center_lambda, mechanism, U, U, table,
                              np.random.default_rng(seed))


def run(m, rounds=5):
    for _ in range(rounds):
        m.step()
    return m.datacollector.get_model_vars_dataframe()


@pytest.mark.parametrize("mechanism", ["M2", "M3+"])
@pytest.mark.parametrize("size", [2, 4, 6])
def test_homogeneous_agents_join_exactly_below_the_threshold(tables, mechanism, size):
    t = tables[mechanism][size]
    lam_star = min(t["holder"], t["buyer"])
    everyone_in = run(model([lam_star] * size, mechanism, tables[mechanism], center_lambda=0.5))
    assert (everyone_in.participants == size).all() and everyone_in.holder_joined.all()
    just_above = np.nextafter(lam_star, np.inf)
    out = run(model([just_above] * size, mechanism, tables[mechanism], center_lambda=0.5))
    assert (out.participants < size).all()


def test_m1_drives_away_every_loss_averse_agent(tables):
    frame = run(model([1.2] * 5, "M1", tables["M1"]))
    assert (frame.participants == 0).all() and not frame.center_ran.any()
    assert (frame.welfare == 0).all() and (frame.first_best_welfare > 0).any()


def test_heterogeneous_joiners_are_those_below_their_threshold(tables):
    table = tables["M3+"]
    lambdas = [table[6]["holder"] - 0.1, table[6]["buyer"] - 0.2, table[6]["buyer"] - 0.01,
               1.0, table[6]["buyer"] * 0.5, table[6]["buyer"] - 0.3]
    m = model(lambdas, "M3+", table, center_lambda=0.5)
    run(m, 2)
    assert m.participants == 6
    assert all(a.joined for a in [m.holder] + m.buyers)


def test_a_reluctant_holder_stops_all_trade(tables):
    table = tables["M2"]
    lambdas = [table[5]["holder"] + 0.5] + [1.0] * 4
    frame = run(model(lambdas, "M2", table))
    assert not frame.holder_joined.any() and (frame.participants == 0).all()


def test_round_records_follow_the_mechanism(tables):
    m = model([1.0] * 4, "M3+", tables["M3+"], center_lambda=0.5, seed=3)
    frame = run(m, 40)
    assert frame.center_ran.all()
    np.testing.assert_allclose(frame.welfare, frame.first_best_welfare)   # everybody joined
    assert (frame.deficit == np.maximum(-frame.revenue, 0)).all()
    assert frame.participants_with_loss.between(0, 4).all()
    cumulative = sum(a.cumulative_utility for a in [m.holder] + m.buyers) + frame.revenue.sum()
    assert cumulative == pytest.approx(frame.welfare.sum(), abs=1e-9)   # utilities + revenue = v


def test_a_loss_averse_center_refuses_to_run_and_nobody_joins_in_vain(tables):
    frame = run(model([1.0] * 3, "M3+", tables["M3+"], center_lambda=1e6))
    assert not frame.center_ran.any() and (frame.revenue == 0).all() and (frame.welfare == 0).all()
    assert (frame.participants == 0).all()        # agents foresee the refusal


def test_agents_shrink_the_market_to_one_the_center_runs(tables):
    """With the center's λ between its λ* at 6 and at smaller sizes, agents settle on a
    market the center accepts (M3+'s center λ* grows with n, so the full market is run)."""
    table = tables["M3+"]
    lam_c = (table[6]["center"] + table[2]["center"]) / 2
    frame = run(model([1.0] * 6, "M3+", table, center_lambda=lam_c))
    sizes = set(frame.participants)
    assert all(lam_c <= table[n]["center"] for n in sizes) and frame.center_ran.all()


def test_same_seed_same_history(tables):
    a = run(model([1.5, 2.0, 2.5, 3.0], "M3+", tables["M3+"], seed=9), 20)
    b = run(model([1.5, 2.0, 2.5, 3.0], "M3+", tables["M3+"], seed=9), 20)
    assert a.equals(b)


def test_threshold_table_rho_only_for_tuned_forms(tables):
    assert all(entry["rho"] is None for entry in tables["M2"].values())
    assert all(0 <= entry["rho"] <= 0.5 for entry in tables["M3+"].values())
    # M1's thresholds are 1 up to sampling noise, at every size
    for entry in tables["M1"].values():
        assert entry["holder"] == pytest.approx(1, abs=0.08)


def test_lambda_presets_and_mixtures():
    from agents.population import PUBLISHED, draw_lambdas

    rng = np.random.default_rng(0)
    preset = draw_lambdas({"distribution": "preset", "name": "walasek_et_al_2024", "sigma": 0.2},
                          200_000, rng)
    assert np.median(preset) == pytest.approx(PUBLISHED["walasek_et_al_2024"], rel=0.01)
    mix = {"distribution": "mixture", "components": (
        {"weight": 0.25, "distribution": "fixed", "value": 0.8},
        {"weight": 0.75, "distribution": "preset", "name": "tversky_kahneman_1992", "sigma": 0.0})}
    lam = draw_lambdas(mix, 100_000, rng)
    assert set(np.unique(lam)) == {0.8, 2.25}
    assert np.mean(lam == 0.8) == pytest.approx(0.25, abs=0.01)
    again = draw_lambdas(mix, 1000, np.random.default_rng(5))
    np.testing.assert_array_equal(again, draw_lambdas(mix, 1000, np.random.default_rng(5)))
