"""Every mechanism against what it declares (the Axelrod pattern): truthfulness, budget, IR.

The declarations live on the classes (center/mechanisms.py); each test below checks one kind
of declaration for every mechanism that makes it.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from center import mechanisms as mm
from center.priors import TruncatedNormal, Uniform
from center.trade import TradeSetting
from tests import reference

ALL = [mm.VCG(), mm.AGV(), mm.M1(), mm.M2(), mm.M3(0.0), mm.M3(0.2), mm.M3(0.5)]
SETTINGS = [lambda n: TradeSetting(n),
            lambda n: TradeSetting(n, TruncatedNormal(0.4, 0.3, 0, 1), Uniform(0, 1.3))]


def by(attribute, value):
    return [m for m in ALL if getattr(m, attribute) == value]


def misreport_gain(mechanism, setting, theta, agent, report):
    """Utility of ``agent`` when it reports ``report`` minus when truthful, per profile."""
    truthful = mechanism.run(setting.batch(theta)).utility[:, agent]
    lie = theta.copy()
    lie[:, agent] = report
    batch = setting.batch(lie)
    u = batch.realised_values(theta) + mechanism.transfers(batch)
    return u[:, agent] - truthful


@pytest.mark.parametrize("mechanism", by("truthfulness", mm.DOMINANT), ids=lambda m: m.label)
@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 8), agent=st.integers(0, 7), make=st.sampled_from(SETTINGS),
       seed=st.integers(0, 2**31))
def test_no_misreport_beats_the_truth(mechanism, n, agent, make, seed):
    setting = make(n)
    rng = np.random.default_rng(seed)
    theta = setting.sample(rng, 400)
    agent %= n
    prior = setting.holder_prior if agent == 0 else setting.buyer_prior
    report = prior.sample(rng, 400)
    assert misreport_gain(mechanism, setting, theta, agent, report).max() <= 1e-12


def test_agv_is_not_dominant_strategy_truthful(rng):
    """AGV declares Bayes-Nash only: some profile rewards a lie."""
    setting = TradeSetting(3)
    theta = setting.sample(rng, 2000)
    gain = misreport_gain(mm.AGV(), setting, theta, 1, setting.buyer_prior.sample(rng, 2000))
    assert gain.max() > 1e-3


@pytest.mark.parametrize("mechanism", by("budget", mm.STRONG_BALANCE), ids=lambda m: m.label)
@pytest.mark.parametrize("n", [2, 3, 7, 20])
def test_strong_budget_balance(mechanism, n, rng):
    setting = TradeSetting(n)
    batch = setting.batch(setting.sample(rng, 5000))
    out = mechanism.run(batch)
    assert np.all(out.revenue == 0.0)
    assert np.abs(mechanism.transfers(batch).sum(axis=1)).max() < 1e-12


@pytest.mark.parametrize("mechanism", by("budget", mm.EX_POST_NO_DEFICIT) + [mm.M1()],
                         ids=lambda m: m.label)
@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 12), seed=st.integers(0, 2**31))
def test_ex_post_no_deficit_in_symmetric_uniform_trade(mechanism, n, seed):
    """VCG by declaration; M1 by Theorem 2 (symmetric, independent values)."""
    setting = TradeSetting(n)
    out = mechanism.run(setting.batch(setting.sample(np.random.default_rng(seed), 3000)))
    assert out.revenue.min() >= -1e-12


def test_m1_can_run_a_deficit_when_the_prior_is_not_symmetric(rng):
    """Theorem 2 needs symmetric values: with a holder prior above the buyers' it fails."""
    setting = TradeSetting(2, Uniform(0.5, 1.0), Uniform(0.0, 1.0))
    out = mm.M1().run(setting.batch(setting.sample(rng, 20000)))
    assert out.revenue.min() < -1e-3


@pytest.mark.parametrize("mechanism", by("participation", mm.EX_ANTE_STAR_IR), ids=lambda m: m.label)
@pytest.mark.parametrize("make", SETTINGS)
@pytest.mark.parametrize("n", [2, 4])
def test_ex_ante_star_ir_and_stated_share(mechanism, make, n, rng):
    """For fixed θ_-i, E over θ̃_i of u_i = (1 − c_i)·E_i(θ_-i) ≥ 0, by quadrature."""
    setting = make(n)
    c = mechanism.coefficients(n, setting.holder)
    for theta in setting.sample(rng, 3):
        e = setting.batch(theta[None, :]).expected_surplus[0]
        for i in range(n):
            prior = setting.holder_prior if i == 0 else setting.buyer_prior
            u_i = lambda t, i=i: mechanism.run(setting.batch(np.array([t]))).utility[0, i]
            got = reference.expected_utility(u_i, theta, i, prior)
            assert got == pytest.approx((1 - c[i]) * e[i], abs=1e-8)
            assert got >= -1e-10


@pytest.mark.parametrize("n", [2, 3, 5, 20])
def test_declared_shares_of_the_expected_surplus(n):
    shares = {"M1": mm.M1().expected_share(n, 0), "M2": mm.M2().expected_share(n, 0),
              "M3": mm.M3(0.3).expected_share(n, 0)}
    np.testing.assert_allclose(shares["M1"], [0.0] * n + [1.0], atol=1e-15)
    np.testing.assert_allclose(shares["M2"], [1 / (n + 1)] * (n + 1), atol=1e-15)   # Theorem 4
    assert shares["M3"][0] == pytest.approx(0.3) and shares["M3"][-1] == pytest.approx(0.3)
    np.testing.assert_allclose(shares["M3"].sum(), 1.0)
    assert mm.M3(1 / (n + 1)).coefficients(n, 0) == pytest.approx(mm.M2().coefficients(n, 0))


def test_bilateral_center_share_by_double_quadrature():
    """Ex ante: E[revenue] = ρ·E[v] for M3 and E[v]/3 for M2, over both types (n = 2)."""
    from scipy import integrate

    setting = TradeSetting(2)
    revenue = lambda mech: lambda b, h: mech.run(setting.batch(np.array([[h, b]]))).revenue[0]
    ev = integrate.dblquad(lambda b, h: max(b - h, 0.0), 0, 1, 0, 1, epsabs=1e-10)[0]
    for mech, share in ((mm.M2(), 1 / 3), (mm.M3(0.4), 0.4), (mm.M1(), 1.0)):
        got = integrate.dblquad(revenue(mech), 0, 1, 0, 1, epsabs=1e-9)[0]
        assert got == pytest.approx(share * ev, abs=1e-7)


@pytest.mark.parametrize("mechanism", [m for m in ALL if m.losers_alike], ids=lambda m: m.label)
def test_losers_alike_declaration(mechanism, rng):
    """Every buyer but the highest gets the same utility (what pooled statistics rely on)."""
    setting = TradeSetting(6)
    batch = setting.batch(setting.sample(rng, 3000))
    u = mechanism.run(batch).utility[:, 1:]
    top = np.argmax(batch.theta[:, 1:], axis=1)
    rest = np.where(np.arange(5)[None, :] == top[:, None], np.nan, u)
    spread = np.nanmax(rest, axis=1) - np.nanmin(rest, axis=1)
    assert spread.max() <= 1e-15
    assert not mm.AGV.losers_alike
