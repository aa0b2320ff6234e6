"""The Gaussian copula: conditional laws exact against brute-force integrals, correlation 0 equal
to the independent path, the theorems under correlation, and validation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special

from center import finite
from center import mechanisms as mm
from center.copula import ConditionalLaw, GaussianCopula, check_correlation, latent_of
from center.correlated import CorrelatedTradeSetting
from center.priors import Beta, TruncatedNormal, Uniform
from center.trade import TradeSetting

MARGINALS = [Uniform(0, 1), TruncatedNormal(0.4, 0.3, 0, 1), Beta(2, 3, 0, 1.2)]


def brute_below(prior, x, mu, sigma):
    """E[(x − X)⁺] with X = F⁻¹(Φ(μ + σ S)), S ~ N(0, 1), by adaptive quadrature."""
    f = lambda s: max(x - float(prior.ppf(special.ndtr(mu + sigma * s))), 0.0) * np.exp(-s * s / 2)
    z = (special.ndtri(min(max(float(prior.cdf(x)), 1e-300), 1 - 1e-16)) - mu) / sigma
    return integrate.quad(f, -12, min(z, 12), limit=400, epsabs=1e-13)[0] / np.sqrt(2 * np.pi)


@pytest.mark.parametrize("prior", MARGINALS, ids=repr)
@pytest.mark.parametrize("mu, sigma", [(0.0, 1.0), (1.2, 0.4), (-2.0, 0.15), (0.3, 0.05)])
def test_conditional_law_against_brute_force(prior, mu, sigma):
    x = np.linspace(prior.low + 0.05, prior.high - 0.05, 5)
    law = ConditionalLaw([prior] * 5, np.full((1, 5), mu), np.full(5, sigma))
    want = [brute_below(prior, v, mu, sigma) for v in x]
    np.testing.assert_allclose(law.below(x[None, :])[0], want, atol=1e-9)
    cdf = special.ndtr((special.ndtri(prior.cdf(x)) - mu) / sigma)
    np.testing.assert_allclose(law.cdf(x[None, :])[0], cdf, atol=1e-14)
    mean = prior.high + 1.0 - law.below(np.full((1, 5), prior.high + 1.0))[0]   # E[X | ·]
    above = law.above(x[None, :])[0]
    np.testing.assert_allclose(above - law.below(x[None, :])[0], mean - x, atol=1e-9)


def test_conditional_moments_are_the_schur_complement(rng):
    a = rng.normal(size=(5, 5))
    cov = a @ a.T + 5 * np.eye(5)
    d = np.sqrt(np.diag(cov))
    corr = cov / np.outer(d, d)
    np.fill_diagonal(corr, 1.0)
    c = GaussianCopula(tuple(map(tuple, corr)))
    z = c.latent(rng, 7)
    mu = c.conditional_mean(z)
    for i in range(5):
        rest = [j for j in range(5) if j != i]
        k = c.matrix[i, rest] @ np.linalg.inv(c.matrix[np.ix_(rest, rest)])
        np.testing.assert_allclose(mu[:, i], z[:, rest] @ k, atol=1e-12)
        var = 1 - k @ c.matrix[rest, i]
        assert c.conditional_sigma[i] == pytest.approx(np.sqrt(var), rel=1e-12)


def test_samples_have_the_marginals_and_the_correlation(rng):
    c = GaussianCopula.equicorrelated(3, 0.6)
    setting = CorrelatedTradeSetting(3, TruncatedNormal(0.4, 0.3, 0, 1), Beta(2, 3), c)
    theta = setting.sample(rng, 200_000)
    grid = np.linspace(0.1, 0.9, 5)
    np.testing.assert_allclose((theta[:, :1] <= grid).mean(axis=0),
                               setting.holder_prior.cdf(grid), atol=5e-3)
    np.testing.assert_allclose((theta[:, 2:] <= grid).mean(axis=0),
                               setting.buyer_prior.cdf(grid), atol=5e-3)
    z = latent_of(setting.priors, theta)
    np.testing.assert_allclose(np.corrcoef(z.T), c.matrix, atol=1e-2)


UNIFORM, MIXED = (Uniform(), Uniform()), (TruncatedNormal(0.4, 0.3, 0, 1), Uniform(0, 1.3))
BETA = (Beta(2, 3), Beta(0.7, 0.9, 0, 1.2))


@pytest.mark.parametrize("priors, n", [(UNIFORM, 2), (UNIFORM, 5), (MIXED, 2), (MIXED, 5), (BETA, 3)],
                         ids=["uniform-2", "uniform-5", "mixed-2", "mixed-5", "beta-3"])
def test_correlation_zero_equals_the_independent_path(priors, n, rng):
    independent = TradeSetting(n, *priors)
    theta = independent.sample(rng, 3000)
    copula = GaussianCopula.equicorrelated(n, 0.0)
    fast = CorrelatedTradeSetting(n, *priors, copula).batch(theta)
    general = finite.trade(n, *priors, copula).batch(theta)
    want = independent.batch(theta)
    np.testing.assert_allclose(fast.expected_surplus, want.expected_surplus, atol=2e-9)
    np.testing.assert_allclose(general.expected_surplus, want.expected_surplus, atol=2e-9)
    for mech in (mm.M1(), mm.M2(), mm.M3(0.3), mm.VCG()):
        np.testing.assert_allclose(mech.run(fast).utility, mech.run(want).utility, atol=2e-9)
    # AGV under the same (here independent) joint prior: Monte Carlo tables (16384 draws on
    # 65 quantiles under a copula), about 1e-2 of the value scale at worst.
    assert np.abs(fast.expected_externality - want.expected_externality).max() < 2e-2


@pytest.mark.parametrize("rho", [0.3, 0.8])
def test_correlated_trade_fast_path_equals_the_general_path(rho, rng):
    copula = GaussianCopula.equicorrelated(4, rho)
    fast = CorrelatedTradeSetting(4, Uniform(), TruncatedNormal(0.5, 0.2, 0, 1), copula)
    general = finite.trade(4, fast.holder_prior, fast.buyer_prior, copula)
    theta = fast.sample(rng, 2000)
    np.testing.assert_allclose(fast.batch(theta).expected_surplus,
                               general.batch(theta).expected_surplus, rtol=0, atol=1e-8)


def test_bilateral_expected_surplus_is_the_conditional_expectation():
    """n = 2, ρ = 0.7: E_h(θ_b) = E[(θ_b − θ̃_h)⁺ | θ_b] with z_h | z_b ~ N(ρ z_b, 1 − ρ²)."""
    rho = 0.7
    setting = CorrelatedTradeSetting(2, Uniform(), Uniform(), GaussianCopula.equicorrelated(2, rho))
    theta = np.array([[0.3, 0.8], [0.9, 0.2], [0.5, 0.5]])
    e = setting.batch(theta).expected_surplus
    sd = np.sqrt(1 - rho ** 2)
    for r, (h, b) in enumerate(theta):
        zb, zh = special.ndtri(b), special.ndtri(h)
        holder = integrate.quad(lambda z: max(b - special.ndtr(z), 0) * np.exp(-0.5 * ((z - rho * zb) / sd) ** 2),
                                -10, 10, limit=400)[0] / (sd * np.sqrt(2 * np.pi))
        buyer = integrate.quad(lambda z: max(special.ndtr(z) - h, 0) * np.exp(-0.5 * ((z - rho * zh) / sd) ** 2),
                               -10, 10, limit=400)[0] / (sd * np.sqrt(2 * np.pi))
        assert e[r, 0] == pytest.approx(holder, abs=1e-9)
        assert e[r, 1] == pytest.approx(buyer, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 6), rho=st.floats(-0.15, 0.9), agent=st.integers(0, 5), seed=st.integers(0, 2**31))
def test_groves_mechanisms_stay_truthful_under_correlation(n, rho, agent, seed):
    setting = CorrelatedTradeSetting(n, Uniform(), Uniform(), GaussianCopula.equicorrelated(n, rho))
    rng = np.random.default_rng(seed)
    theta = setting.sample(rng, 300)
    agent %= n
    lie = theta.copy()
    lie[:, agent] = rng.random(300)
    batch = setting.batch(lie)
    for mech in (mm.VCG(), mm.M1(), mm.M2(), mm.M3(0.2)):
        truthful = mech.run(setting.batch(theta)).utility[:, agent]
        u = batch.realised_values(theta) + mech.transfers(batch)
        assert (u[:, agent] - truthful).max() <= 1e-12


@pytest.mark.parametrize("mechanism", [mm.M1(), mm.M2(), mm.M3(0.35)], ids=lambda m: m.label)
def test_ex_ante_star_ir_under_the_conditional_law(mechanism):
    """For fixed θ_-i, E over θ̃_i ~ G_i of u_i = (1 − c_i)·E_i(θ_-i) ≥ 0 (quadrature over z)."""
    n, rho = 3, 0.6
    setting = CorrelatedTradeSetting(n, Uniform(), Uniform(), GaussianCopula.equicorrelated(n, rho))
    theta = np.array([0.35, 0.7, 0.55])
    copula = setting.copula
    e = setting.batch(theta[None, :]).expected_surplus[0]
    c = mechanism.coefficients(n, 0)
    z = special.ndtri(theta)
    mu, sd = copula.conditional_mean(z[None, :])[0], copula.conditional_sigma
    for i in range(n):
        def u(s):
            t = theta.copy()
            t[i] = special.ndtr(mu[i] + sd[i] * s)
            return mechanism.run(setting.batch(t[None, :])).utility[0, i] * np.exp(-s * s / 2)
        kinks = [(special.ndtri(min(max(p, 1e-12), 1 - 1e-12)) - mu[i]) / sd[i] for p in theta]
        got = integrate.quad(u, -9, 9, points=sorted(kinks), limit=400)[0] / np.sqrt(2 * np.pi)
        assert got == pytest.approx((1 - c[i]) * e[i], abs=1e-8) and got >= -1e-9


def test_public_project_under_correlation_runs_and_balances_agv(rng):
    setting = finite.public_project(3, Uniform(-1, 1), 0.3,
                                    copula=GaussianCopula.equicorrelated(3, 0.5))
    batch = setting.batch(setting.sample(rng, 2000))
    assert np.abs(mm.AGV().transfers(batch).sum(axis=1)).max() < 1e-12
    e = batch.expected_surplus
    assert np.all(e >= -1e-12) and np.all(np.isfinite(e))


@pytest.mark.parametrize("matrix, words", [
    ([[1.0, 0.5], [0.4, 1.0]], "symmetric"),
    ([[1.0, 1.0], [1.0, 1.0]], "strictly between"),
    ([[0.9, 0.1], [0.1, 1.0]], "diagonal"),
    ([[1, 0.9, 0.9, 0], [0.9, 1, 0, 0.9], [0.9, 0, 1, 0.9], [0, 0.9, 0.9, 1]], "positive definite"),
    ([[1.0, 0.5, 0.2]], "square"),
])
def test_bad_correlation_matrices_are_refused(matrix, words):
    with pytest.raises(ValueError, match=words):
        check_correlation(np.asarray(matrix, float))


def test_equicorrelation_needs_more_than_minus_one_over_n_minus_one():
    GaussianCopula.equicorrelated(4, -0.3)
    with pytest.raises(ValueError, match="positive definite"):
        GaussianCopula.equicorrelated(4, -1 / 3)


def test_correlated_types_need_continuous_priors():
    from center.priors import Discrete

    with pytest.raises(ValueError):
        CorrelatedTradeSetting(2, Discrete((0.0, 1.0), (0.5, 0.5)), Uniform(),
                               GaussianCopula.equicorrelated(2, 0.3))


def _affine_setting(rng, n, k, copula):
    agents = tuple(finite.AffineValues(Uniform(-0.5, 1.0) if j % 2 else TruncatedNormal(0.3, 0.4, -0.5, 1.0),
                                       tuple(rng.uniform(-1, 1, k)), tuple(rng.uniform(-2, 2, k)))
                   for j in range(n))
    return finite.FiniteSetting(agents, tuple(f"o{j}" for j in range(k)), copula=copula)


def test_general_affine_path_at_correlation_zero_equals_independent(rng):
    plain = _affine_setting(rng, 3, 5, None)
    theta = plain.sample(rng, 500)
    with_copula = finite.FiniteSetting(plain.agents, plain.outcomes,
                                       copula=GaussianCopula.equicorrelated(3, 0.0))
    np.testing.assert_allclose(with_copula.batch(theta).expected_surplus,
                               plain.batch(theta).expected_surplus, atol=2e-9)


@pytest.mark.parametrize("rho", [0.4, 0.85])
def test_general_affine_path_under_correlation_against_quadrature(rho, rng):
    """E_i = ∫ max_o(v_i(x, o) + W_i[o]) dG_i(x), G_i the conditional law, by adaptive
    quadrature over the conditional normal s (x = F⁻¹(Φ(μ + σ s)))."""
    copula = GaussianCopula.equicorrelated(3, rho)
    setting = _affine_setting(rng, 3, 4, copula)
    theta = setting.sample(rng, 3)
    got = setting.batch(theta).expected_surplus
    z = latent_of(setting.priors, theta)
    mu, sd = copula.conditional_mean(z), copula.conditional_sigma
    v = setting.values_of(theta)
    for r in range(3):
        for i in range(3):
            agent = setting.agents[i]
            w = v[r].sum(axis=0) - v[r, i]
            def f(s):
                x = float(agent.prior.ppf(special.ndtr(mu[r, i] + sd[i] * s)))
                return float(np.max(np.asarray(agent.intercept) + np.asarray(agent.slope) * x + w)) \
                    * np.exp(-s * s / 2) / np.sqrt(2 * np.pi)
            want = integrate.quad(f, -9, 9, limit=500, epsabs=1e-12)[0]
            assert got[r, i] == pytest.approx(want, abs=1e-7)


# --- regressions from adversarial testing ---------------------------------------------------

def test_row_blocks_under_a_copula_give_the_unblocked_result(monkeypatch, rng):
    """The envelope works in row blocks; each block needs its own conditional laws."""
    cop = GaussianCopula.equicorrelated(4, 0.6)
    setting = finite.public_project(4, Uniform(-0.5, 1.0), 0.5, 1, cop)
    theta = setting.sample(rng, 3000)
    whole = setting.batch(theta).expected_surplus
    monkeypatch.setattr(finite, "ROW_BLOCK_ELEMENTS", 4 * 2 * 2 * 100)     # 100-row blocks
    blocked = setting.batch(theta).expected_surplus
    np.testing.assert_allclose(blocked, whole, rtol=0, atol=1e-15)


def test_correlated_trade_agv_uses_each_buyers_own_table(rng):
    """With buyer 1 tied to the holder and buyer 2 independent, their ξ differ."""
    cop = GaussianCopula(((1.0, 0.8, 0.0), (0.8, 1.0, 0.0), (0.0, 0.0, 1.0)))
    fast = CorrelatedTradeSetting(3, Uniform(), Uniform(), cop)
    general = finite.trade(3, Uniform(), Uniform(), cop)
    theta = fast.sample(rng, 5000)
    np.testing.assert_array_equal(fast.batch(theta).expected_externality,
                                  general.batch(theta).expected_externality)


def test_correlation_zero_is_the_independent_setting_draws_included():
    from scenarios.setting_spec import SymmetricSpec, TradeSpec

    u = Uniform()
    assert type(TradeSpec(u, u, 0.0).make(3)) is TradeSetting
    assert TradeSpec(u, u, ((1.0, 0.0), (0.0, 1.0))).make(2) == TradeSetting(2, u, u)
    assert SymmetricSpec("public_project", u, 0.1, 0, 0.0).make(3).copula is None
