"""Loss-averse preferences (eq. 8) and the participation threshold λ*."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.preferences import joins, lambda_star, loss_averse_utility


def test_eq_8_weighs_losses_by_lambda():
    np.testing.assert_array_equal(loss_averse_utility([-2.0, 0.0, 3.0], 2.25), [-4.5, 0.0, 3.0])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-10, 10, allow_nan=False, allow_subnormal=False)
                .map(lambda v: 0.0 if abs(v) < 1e-100 else v),     # E[x⁺]/E[x⁻] stays finite
                min_size=1, max_size=50))
def test_expected_loss_averse_utility_is_zero_exactly_at_lambda_star(xs):
    x = np.array(xs)
    lam = lambda_star(x)
    if not (x < 0).any():
        assert lam == np.inf and joins(1e9, lam)
        return
    assert lam >= 0
    assert loss_averse_utility(x, lam).mean() == pytest.approx(0.0, abs=1e-9 * (1 + np.abs(x).sum()))
    assert loss_averse_utility(x, lam * 1.01 + 1e-9).mean() <= 0      # more loss averse: worse
    assert joins(lam, lam) and not joins(np.nextafter(lam, np.inf), lam)
