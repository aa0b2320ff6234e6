"""Exact ρ tuning (center/tuning.py) against brute force on a fine grid of ρ."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from center import tuning
from center.mechanisms import M3, m3_affine
from center.priors import TruncatedNormal
from center.statistics import ROLES, role_samples, role_table
from center.trade import TradeSetting

GRID = np.linspace(0.0, 0.5, 5001)


def affine_samples(setting, profiles, seed):
    batch = setting.batch(setting.sample(np.random.default_rng(seed), profiles))
    a_u, b_u, a_r, b_r = m3_affine(batch)
    a = [x for x, _ in role_samples(a_u, a_r, 0)]
    b = [x for x, _ in role_samples(b_u, b_r, 0)]
    return batch, a, b


def tuned(a, b, tol, chunks=1):
    """Run both passes over the samples split into ``chunks`` pieces."""
    data = {r: tuning.RoleBreakpoints(tol) for r in ROLES}
    pieces = [list(zip(np.array_split(x, chunks), np.array_split(y, chunks))) for x, y in zip(a, b)]
    for r, parts in zip(ROLES, pieces):
        for x, y in parts:
            data[r].add(x, y, np.ones(x.size))
    bins = tuning.refine_bins(data)
    for r, parts in zip(ROLES, pieces):
        for x, y in parts:
            data[r].add_gathered(data[r].gather(x, y, np.ones(x.size), bins))
    return data


def objectives(a, b, rho, tol):
    """Largest loss share and smallest λ* over roles at each ρ, by direct evaluation."""
    worst_loss, worst_lambda = [], []
    for g in np.atleast_1d(rho):
        xs = [x + g * y for x, y in zip(a, b)]
        worst_loss.append(max(np.mean(x < -tol) for x in xs))
        lam = [np.inf if not (x < -tol).any() else max(x[x >= -tol].sum(), 0) / -x[x < -tol].sum()
               for x in xs]
        worst_lambda.append(min(lam))
    return np.array(worst_loss), np.array(worst_lambda)


@settings(max_examples=12, deadline=None)
@given(n=st.integers(2, 12), seed=st.integers(0, 2**31), normal=st.booleans())
def test_exact_optimum_is_at_least_as_good_as_any_grid_point(n, seed, normal):
    prior = TruncatedNormal(0.5, 0.25, 0, 1) if normal else None
    setting = TradeSetting(n, prior, prior) if prior else TradeSetting(n)
    _, a, b = affine_samples(setting, 1500, seed)
    tol = setting.loss_tolerance
    data = tuned(a, b, tol)
    loss_grid, lam_grid = objectives(a, b, GRID, tol)
    star_value, star_rho, exact = tuning.optimise("M3*", data)
    plus_value, plus_rho, exact_plus = tuning.optimise("M3+", data)
    assert exact and exact_plus
    assert 0.0 <= star_rho <= 0.5 and 0.0 <= plus_rho <= 0.5
    assert star_value <= loss_grid.min() + 1e-15
    assert plus_value >= lam_grid.max() - 1e-12
    # The reported optimum is the objective evaluated directly at the returned ρ.
    direct_loss, _ = objectives(a, b, star_rho, tol)
    _, direct_lambda = objectives(a, b, plus_rho, tol)
    assert star_value == pytest.approx(direct_loss[0], abs=1e-15)
    assert plus_value == pytest.approx(direct_lambda[0], rel=1e-10)


@pytest.mark.parametrize("n", [2, 5, 9])
def test_sums_at_rho_equal_running_m3_directly(n):
    setting = TradeSetting(n)
    batch, a, b = affine_samples(setting, 3000, n)
    data = tuned(a, b, setting.loss_tolerance, chunks=4)
    for objective in ("M3*", "M3+"):
        _, rho, _ = tuning.optimise(objective, data)
        got = np.array([data[r].sums(rho) for r in ROLES])
        out = M3(rho).run(batch)
        want = role_table(out.utility, out.revenue, 0, setting.loss_tolerance)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_chunking_does_not_change_the_optimum():
    setting = TradeSetting(6)
    _, a, b = affine_samples(setting, 4000, 3)
    one, many = tuned(a, b, setting.loss_tolerance, 1), tuned(a, b, setting.loss_tolerance, 7)
    for objective in ("M3*", "M3+"):
        v1, r1, _ = tuning.optimise(objective, one)
        v7, r7, _ = tuning.optimise(objective, many)
        assert v1 == pytest.approx(v7, rel=1e-12) and r1 == pytest.approx(r7, abs=1e-12)


def test_weights_stand_for_repeated_samples():
    """A sample with weight w counts as w copies of itself."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=300), rng.normal(size=300)
    w = rng.integers(1, 5, size=300).astype(float)
    h1 = tuning.Breakpoints.of(a, b, w, 0.0)
    h2 = tuning.Breakpoints.of(np.repeat(a, w.astype(int)), np.repeat(b, w.astype(int)),
                               np.ones(int(w.sum())), 0.0)
    for name in ("rise", "fall", "base", "total"):
        np.testing.assert_allclose(getattr(h1, name), getattr(h2, name), atol=1e-12)
