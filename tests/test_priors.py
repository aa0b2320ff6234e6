"""Priors: the partial integrals against numerical integration, sampling against the CDF."""

import numpy as np
import pytest
from scipy import integrate

from center.priors import TruncatedNormal, Uniform

PRIORS = [Uniform(0, 1), Uniform(-0.5, 2.0), TruncatedNormal(0.5, 0.2, 0, 1),
          TruncatedNormal(0.2, 0.5, -1.0, 1.5)]


@pytest.mark.parametrize("prior", PRIORS, ids=repr)
@pytest.mark.parametrize("t", [-2.0, -0.3, 0.1, 0.5, 0.93, 1.7, 3.0])
def test_partial_integrals_match_quadrature(prior, t):
    lo, hi = prior.low, prior.high
    below = integrate.quad(lambda x: float(prior.cdf(x)), lo - 5, t, points=[lo, hi], limit=200)[0]
    above = integrate.quad(lambda x: 1 - float(prior.cdf(x)), t, hi + 5, points=[lo, hi], limit=200)[0]
    assert float(prior.below(t)) == pytest.approx(below, abs=1e-9)
    assert float(prior.above(t)) == pytest.approx(above, abs=1e-9)


@pytest.mark.parametrize("prior", PRIORS, ids=repr)
def test_mean_and_density_integrate_consistently(prior):
    mass = integrate.quad(lambda x: float(prior.pdf(x)), prior.low, prior.high)[0]
    mean = integrate.quad(lambda x: x * float(prior.pdf(x)), prior.low, prior.high)[0]
    assert mass == pytest.approx(1.0, abs=1e-9)
    assert prior.mean == pytest.approx(mean, abs=1e-9)


@pytest.mark.parametrize("prior", PRIORS, ids=repr)
def test_samples_follow_the_cdf(prior, rng):
    x = prior.sample(rng, 200_000)
    assert x.min() >= prior.low and x.max() <= prior.high
    grid = np.linspace(prior.low, prior.high, 11)[1:-1]
    empirical = (x[:, None] <= grid).mean(axis=0)
    np.testing.assert_allclose(empirical, prior.cdf(grid), atol=5e-3)


def test_invalid_priors_are_refused():
    with pytest.raises(ValueError):
        Uniform(1, 0)
    with pytest.raises(ValueError):
        TruncatedNormal(0.5, 0.0, 0, 1)
