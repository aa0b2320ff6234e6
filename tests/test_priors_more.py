"""Beta and discrete priors, and E_i by the general path against trade's closed forms and
adaptive quadrature for every prior family."""

import numpy as np
import pytest
from scipy import integrate

from center import finite
from center.copula import ConditionalLaw
from center.priors import PRIOR_FAMILIES, Beta, Discrete, TruncatedNormal, Uniform
from center.trade import TradeSetting
from tests import reference

CONTINUOUS = [Beta(2, 5), Beta(0.5, 0.7, -1.0, 2.0), Beta(3, 3, 0.2, 0.9)]
DISCRETE = [Discrete((0.1, 0.5, 0.9), (0.2, 0.5, 0.3)), Discrete((-1.0, 2.0), (0.25, 0.75)),
            Discrete((0.3,), (1.0,))]
T = [-2.0, -0.3, 0.1, 0.5, 0.93, 1.7, 3.0]


def test_families_are_registered():
    assert PRIOR_FAMILIES == {"uniform": Uniform, "truncated_normal": TruncatedNormal,
                              "beta": Beta, "discrete": Discrete}


@pytest.mark.parametrize("prior", CONTINUOUS, ids=repr)
@pytest.mark.parametrize("t", T)
def test_beta_partial_integrals_match_quadrature(prior, t):
    lo, hi = prior.low, prior.high
    below = integrate.quad(lambda x: float(prior.cdf(x)), lo - 5, t, points=[lo, hi], limit=200)[0]
    above = integrate.quad(lambda x: 1 - float(prior.cdf(x)), t, hi + 5, points=[lo, hi], limit=200)[0]
    top = min(max(t, lo), hi)
    pm = integrate.quad(lambda x: x * float(prior.pdf(x)), lo, top, limit=200)[0] if top > lo else 0.0
    assert float(prior.below(t)) == pytest.approx(below, abs=1e-8)
    assert float(prior.above(t)) == pytest.approx(above, abs=1e-8)
    assert float(prior.partial_mean(t)) == pytest.approx(pm, abs=1e-7)


@pytest.mark.parametrize("prior", CONTINUOUS, ids=repr)
def test_beta_density_mean_and_quantiles(prior, rng):
    mass = integrate.quad(lambda x: float(prior.pdf(x)), prior.low, prior.high, limit=200)[0]
    mean = integrate.quad(lambda x: x * float(prior.pdf(x)), prior.low, prior.high, limit=200)[0]
    assert mass == pytest.approx(1.0, abs=1e-7) and prior.mean == pytest.approx(mean, abs=1e-7)
    u = np.linspace(0.01, 0.99, 9)
    np.testing.assert_allclose(prior.cdf(prior.ppf(u)), u, atol=1e-12)
    x = prior.sample(rng, 100_000)
    grid = np.linspace(prior.low, prior.high, 9)[1:-1]
    np.testing.assert_allclose((x[:, None] <= grid).mean(axis=0), prior.cdf(grid), atol=6e-3)


@pytest.mark.parametrize("prior", DISCRETE, ids=repr)
@pytest.mark.parametrize("t", T)
def test_discrete_sums(prior, t):
    v, p = np.asarray(prior.values), np.asarray(prior.probabilities)
    assert float(prior.cdf(t)) == pytest.approx(p[v <= t].sum())
    assert float(prior.below(t)) == pytest.approx(p @ np.maximum(t - v, 0), abs=1e-15)
    assert float(prior.above(t)) == pytest.approx(p @ np.maximum(v - t, 0), abs=1e-15)
    assert float(prior.partial_mean(t)) == pytest.approx(p @ (v * (v <= t)), abs=1e-15)
    assert prior.mean == pytest.approx(p @ v)
    np.testing.assert_allclose(prior.pmf(v), p)


@pytest.mark.parametrize("prior", DISCRETE, ids=repr)
def test_discrete_sampling_frequencies(prior, rng):
    x = prior.sample(rng, 200_000)
    freq = [(x == v).mean() for v in prior.values]
    np.testing.assert_allclose(freq, prior.probabilities, atol=5e-3)


def test_zero_probability_values_are_never_drawn(rng):
    prior = Discrete((0.0, 1.0, 2.0), (0.5, 0.0, 0.5))
    assert not np.any(prior.sample(rng, 100_000) == 1.0)


@pytest.mark.parametrize("values, probs", [((0.0, 1.0), (0.5, 0.4)), ((0.0, 0.0), (0.5, 0.5)),
                                           ((0.0, 1.0), (1.2, -0.2)), ((), ()), ((0.0,), (0.5, 0.5))])
def test_bad_discrete_priors_are_refused(values, probs):
    with pytest.raises(ValueError):
        Discrete(values, probs)


def test_bad_beta_priors_are_refused():
    for args in ((0.0, 1.0), (1.0, -1.0), (1.0, 1.0, 1.0, 0.0)):
        with pytest.raises(ValueError):
            Beta(*args)


# -- E_i against closed forms, for every family ---------------------------------------------

FAMILIES = [Uniform(-0.5, 1.5), TruncatedNormal(0.5, 0.2, 0, 1), Beta(2, 3, 0, 1.2),
            Beta(0.6, 0.8), Discrete((0.0, 0.3, 0.7, 1.0), (0.1, 0.4, 0.3, 0.2))]


@pytest.mark.parametrize("prior", FAMILIES, ids=repr)
@pytest.mark.parametrize("n", [2, 5])
def test_general_expected_surplus_equals_the_trade_closed_forms(prior, n, rng):
    trade = TradeSetting(n, prior, prior)
    theta = trade.sample(rng, 3000)
    got = finite.trade(n, prior, prior).batch(theta).expected_surplus
    np.testing.assert_allclose(got, trade.batch(theta).expected_surplus, atol=1e-13)


@pytest.mark.parametrize("prior", FAMILIES[:4], ids=repr)
def test_quadrature_expected_surplus_equals_the_closed_forms(prior, rng):
    """The copula's Gauss–Legendre path with C = I (μ = 0, σ = 1) against the priors' closed
    forms, and both against adaptive quadrature of the definition."""
    x = np.linspace(prior.low - 0.2, prior.high + 0.2, 13)[None, :]
    law = ConditionalLaw([prior] * 13, np.zeros((1, 13)), np.ones(13))
    np.testing.assert_allclose(law.below(x), prior.below(x), atol=2e-9)
    np.testing.assert_allclose(law.above(x), prior.above(x), atol=2e-9)
    np.testing.assert_allclose(law.partial_mean(x), prior.partial_mean(x), atol=2e-9)
    setting = TradeSetting(3, prior, prior)
    theta = setting.sample(rng, 2)
    e = setting.batch(theta).expected_surplus
    for r in range(2):
        for i in range(3):
            want = reference.expected_surplus(list(theta[r]), i, prior)
            assert e[r, i] == pytest.approx(want, abs=1e-7)
