"""Trade setting: closed-form E_i, Clarke pivots and AGV's ξ against independent references."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from center.priors import TruncatedNormal, Uniform
from center.trade import TradeSetting
from tests import reference

PRIORS = {"uniform": (Uniform(0, 1), Uniform(0, 1)),
          "truncated_normal": (TruncatedNormal(0.4, 0.25, 0, 1), TruncatedNormal(0.6, 0.3, 0, 1.2)),
          "shifted_uniform": (Uniform(0.2, 0.9), Uniform(0, 1))}


@pytest.mark.parametrize("name", list(PRIORS))
@pytest.mark.parametrize("n", [2, 3, 5])
def test_expected_surplus_matches_quadrature(name, n, rng):
    hp, bp = PRIORS[name]
    setting = TradeSetting(n, hp, bp)
    theta = setting.sample(rng, 6)
    e = setting.batch(theta).expected_surplus
    for r in range(len(theta)):
        for i in range(n):
            want = reference.expected_surplus(theta[r], i, hp if i == 0 else bp)
            assert e[r, i] == pytest.approx(want, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 7), st.integers(0, 2**31))
def test_welfare_values_and_pivots_match_definitions(n, seed):
    setting = TradeSetting(n)
    theta = setting.sample(np.random.default_rng(seed), 5)
    batch = setting.batch(theta)
    for r, t in enumerate(theta):
        assert batch.welfare[r] == pytest.approx(reference.welfare(t), abs=1e-15)
        assert batch.values[r].sum() == pytest.approx(batch.welfare[r], abs=1e-15)
        # Clarke pivot of the holder: the buyers' best value; of buyer i: welfare without i.
        assert batch.clarke_pivot[r, 0] == pytest.approx(max(t[1:]), abs=1e-15)
        for i in range(1, n):
            without = [t[0]] + [x for j, x in enumerate(t[1:], 1) if j != i] or [t[0]]
            want = reference.welfare(without) if len(without) > 1 else 0.0
            assert batch.clarke_pivot[r, i] == pytest.approx(want, abs=1e-15)


def test_agv_xi_closed_forms_in_uniform_trade():
    t = np.linspace(0, 1, 2001)
    for n in (2, 3, 20):
        holder_xi, buyer_xi = TradeSetting(n)._externality
        m = n - 1
        np.testing.assert_allclose(holder_xi(t), m / (m + 1) * (1 - t ** (m + 1)), atol=1e-10)
    _, buyer_xi = TradeSetting(2)._externality
    np.testing.assert_allclose(buyer_xi(t), -t ** 2 / 2, atol=1e-12)
    _, buyer_xi = TradeSetting(3)._externality
    np.testing.assert_allclose(buyer_xi(t), -t ** 3 / 2 + (1 - t ** 3) / 6, atol=1e-12)


@pytest.mark.parametrize("n", [2, 3])
def test_agv_xi_matches_quadrature_for_truncated_normal(n):
    hp, bp = PRIORS["truncated_normal"]
    holder_xi, buyer_xi = TradeSetting(n, hp, bp)._externality
    for t in (0.1, 0.45, 0.8):
        if n == 2:
            want_h = integrate.quad(lambda x: x * float(bp.pdf(x)), t, bp.high)[0]
            want_b = -integrate.quad(lambda x: x * float(hp.pdf(x)), hp.low, t)[0]
        else:   # one rival buyer y: the holder faces max(x, y); a buyer faces y
            f = lambda a: float(bp.pdf(a))
            want_h = integrate.dblquad(lambda y, x: max(x, y) * (max(x, y) > t) * f(x) * f(y),
                                       bp.low, bp.high, bp.low, bp.high, epsabs=1e-10)[0]
            g = lambda y, h: ((-h if t > max(h, y) else 0.0) + (y - h if y > max(h, t) else 0.0)) \
                * float(hp.pdf(h)) * f(y)
            want_b = integrate.dblquad(g, hp.low, hp.high, bp.low, bp.high, epsabs=1e-10)[0]
        assert float(holder_xi(np.array([t]))[0]) == pytest.approx(want_h, abs=2e-6)
        assert float(buyer_xi(np.array([t]))[0]) == pytest.approx(want_b, abs=2e-6)


def test_bad_shapes_and_sizes_are_refused():
    with pytest.raises(ValueError, match="n ≥ 2"):
        TradeSetting(1)
    with pytest.raises(ValueError, match="shape"):
        TradeSetting(3).batch(np.zeros((4, 2)))
