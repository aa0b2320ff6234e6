"""The paper's worked example (section 3.1) and other hand-computed profiles."""

import numpy as np
import pytest

from center.mechanisms import AGV, M1, M2, M3, VCG
from center.trade import TradeSetting

EXAMPLE = np.array([[0.4, 0.7]])      # seller 0.4, buyer 0.7, uniform [0, 1] priors


def test_mechanism_1_matches_section_3_1():
    batch = TradeSetting(2).batch(EXAMPLE)
    t = M1().transfers(batch)
    out = M1().run(batch)
    np.testing.assert_allclose(t, [[0.455, -0.58]], atol=1e-12)
    np.testing.assert_allclose(out.utility, [[0.055, 0.12]], atol=1e-12)
    np.testing.assert_allclose(out.revenue, [0.125], atol=1e-12)


def test_expected_surplus_of_the_example():
    batch = TradeSetting(2).batch(EXAMPLE)
    # E_1 = ∫_0^0.7 x dx... = 0.7²/2; E_2 = ∫_0.4^1 (x − 0.4) dx = 0.6²/2
    np.testing.assert_allclose(batch.expected_surplus, [[0.245, 0.18]], atol=1e-15)
    assert batch.welfare[0] == pytest.approx(0.3, abs=1e-15)


def test_m2_and_m3_shares_in_the_example():
    batch = TradeSetting(2).batch(EXAMPLE)
    # u_i = v − c_i E_i with c = 2/3 (M2), and c = (1 − ρ, 2ρ) (M3).
    np.testing.assert_allclose(M2().run(batch).utility, [[0.3 - 2 / 3 * 0.245, 0.3 - 2 / 3 * 0.18]])
    np.testing.assert_allclose(M3(0.25).run(batch).utility, [[0.3 - 0.75 * 0.245, 0.3 - 0.5 * 0.18]])
    np.testing.assert_allclose(M3(1 / 3).run(batch).utility, M2().run(batch).utility, atol=1e-15)


def test_vcg_and_agv_in_the_example():
    batch = TradeSetting(2).batch(EXAMPLE)
    vcg = VCG().run(batch)
    # Clarke pivot: the holder is paid nothing for the item, the buyer pays the holder's value.
    np.testing.assert_allclose(vcg.utility, [[-0.4, 0.3]], atol=1e-15)
    np.testing.assert_allclose(vcg.revenue, [0.4], atol=1e-15)
    agv = AGV().run(batch)
    # ξ_h(t) = (1 − t²)/2, ξ_b(t) = −t²/2 in uniform bilateral trade.
    xi_h, xi_b = (1 - 0.4 ** 2) / 2, -(0.7 ** 2) / 2
    np.testing.assert_allclose(agv.utility, [[-0.4 + xi_h - xi_b, 0.7 + xi_b - xi_h]], atol=1e-12)
    assert agv.revenue[0] == 0.0


def test_m3_rejects_rho_outside_theorem_5():
    with pytest.raises(ValueError, match="0 ≤ ρ ≤ 0.5"):
        M3(0.6)
