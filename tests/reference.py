"""Independent, slow reference computations for the tests (plain Python, no vectorisation)."""

from scipy import integrate


def welfare(theta):
    """v(θ) of single-item trade: holder θ[0], buyers θ[1:]."""
    return max(0.0, max(theta[1:]) - theta[0])


def expected_surplus(theta, i, prior):
    """E over θ̃_i ~ prior of v(θ̃_i, θ_-i), by adaptive quadrature."""
    return expected_utility(welfare, theta, i, prior)


def expected_utility(mechanism_utility, theta, i, prior):
    """E over θ̃_i of agent i's utility, other reports fixed; mechanism_utility(θ) -> u_i."""
    def u(x):
        t = list(theta)
        t[i] = x
        return mechanism_utility(t) * float(prior.pdf(x))
    kinks = sorted({min(max(p, prior.low), prior.high) for p in theta})
    return integrate.quad(u, prior.low, prior.high, points=kinks, limit=200, epsabs=1e-12)[0]
