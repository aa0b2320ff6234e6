"""Cases found by trying to break the tool: they stay fixed."""

import numpy as np
import pandas as pd
import pytest

from center.mechanisms import AGV, M1, VCG
from center.priors import TruncatedNormal, Uniform
from center.statistics import role_table
from center.trade import TradeSetting
from scenarios.executors import SerialExecutor
from scenarios.study import StudyTask, run_study


@pytest.mark.parametrize("shift, rtol", [(1e3, 1e-3), (1e6, 1e-2)])
def test_a_common_shift_of_all_values_barely_changes_losses(shift, rtol, rng):
    """Utilities are shift-invariant; the loss line (1e-12 of the largest |value|) moves with
    the shift, so losses smaller than that are dropped — a documented, small effect."""
    base = TradeSetting(4)
    theta = base.sample(rng, 20000)
    moved = TradeSetting(4, Uniform(shift, shift + 1), Uniform(shift, shift + 1))
    a = M1().run(base.batch(theta))
    b = M1().run(moved.batch(theta + shift))
    np.testing.assert_allclose(b.utility, a.utility, atol=1e-12 * shift * 10)
    ta = role_table(a.utility, a.revenue, 0, base.loss_tolerance)
    tb = role_table(b.utility, b.revenue, 0, moved.loss_tolerance)
    np.testing.assert_allclose(tb[:, 1], ta[:, 1], rtol=rtol)    # loss counts


def test_tiny_scales_still_count_losses(rng):
    tiny = TradeSetting(2, Uniform(0, 1e-10), Uniform(0, 1e-10))
    out = VCG().run(tiny.batch(tiny.sample(rng, 1000)))
    table = role_table(out.utility, out.revenue, 0, tiny.loss_tolerance)
    assert table[0, 1] == table[0, 0]              # the VCG holder always loses


@pytest.mark.parametrize("holder", [Uniform(-2.0, -1.0), TruncatedNormal(0.5, 1e-7, 0, 1),
                                    Uniform(0.4, 0.4000001)], ids=repr)
def test_no_loss_means_infinite_threshold(holder):
    tasks = [StudyTask(TradeSetting(n, holder, Uniform(0, 1)), ("VCG", "AGV", "M1", "M2", "M3*", "M3+"),
                       3000, 1000, 2) for n in (2, 5)]
    rows = pd.DataFrame(run_study(tasks, SerialExecutor(), progress=False))
    assert ((rows.loss_probability == 0) == np.isinf(rows.lambda_star)).all()


@pytest.mark.parametrize("holder, buyer, n, want", [
    (TruncatedNormal(0.5, 1e-9, 0, 1), Uniform(0, 1), 2, (0.375, -0.25)),
    (Uniform(1.0, 1.00000001), Uniform(0, 2), 3, (7 / 12, -1 / 12)),
], ids=["peaked normal holder", "narrow uniform holder"])
def test_agv_with_a_concentrated_holder(holder, buyer, n, want, rng):
    """A point-mass holder at h: E[ξ_h] − E[ξ_b] and the buyers' symmetric share."""
    setting = TradeSetting(n, holder, buyer)
    u = AGV().run(setting.batch(setting.sample(rng, 400_000))).utility.mean(axis=0)
    assert u[0] == pytest.approx(want[0], abs=3e-3)
    np.testing.assert_allclose(u[1:], want[1], atol=3e-3)
