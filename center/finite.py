"""General finite-outcome settings: a list of outcomes and, per agent, values as a function of
its type.  The paper's mechanisms are defined for any such setting (section 2).

Two kinds of value functions:

- ``AffineValues``: a scalar type θ with any prior (continuous, or ``Discrete``) and
  v(θ, o) = intercept[o] + slope[o]·θ;
- ``TableValues``: a discrete type space {0, …, m − 1} with probabilities and a value table
  values[t][o].

A batch holds V (R, n, K) — agent i's value for outcome o in profile r.  The efficient outcome
is argmax_o Σ_i V (the first one on ties), and with W_i = Σ_{j≠i} V_j the expected surplus is

    E_i(θ_-i) = E over θ̃_i of max_o (v_i(θ̃_i, o) + W_i[o])

- discrete types: exact enumeration over i's type space (a loop over its m types, each step
  vectorised over profiles and agents);
- continuous types (affine values): the integrand is the upper envelope of K lines in θ̃_i.
  Line o is on top on an interval [lo_o, hi_o] found from its crossings with the others
  (vectorised over all K(K − 1)/2 pairs of slope-sorted lines, or over all ordered pairs with
  masks when two slopes are equal), and E_i = Σ_o ∫_{lo_o}^{hi_o} (c_o + b_o x) dF(x) =
  Σ_o c_o ΔF + b_o ΔPM with PM(x) = E[X·1{X ≤ x}].  Exact: closed forms of each prior (no
  quadrature error; polynomials for uniform priors), or, under a Gaussian copula, the
  conditional law of θ_i | θ_-i whose partial means come from Gauss–Legendre
  (center/copula.py).

AGV's expected externality ξ_i(t) = E over θ̃_-i of v_-i at f*(t, θ̃_-i) is tabulated once per
setting (``externality_tables``): by exact enumeration when the other agents' joint type space
is discrete and has at most ENUMERATION_LIMIT profiles, otherwise by Monte Carlo with
AGV_DRAWS Latin-hypercube draws of θ_-i (the same draws for every own type t, from a fixed
seed: a setting always gets the same tables), under the copula from the conditional law of
θ_-i | θ_i (COPULA_DRAWS draws on COPULA_GRID quantiles: each point needs its own draws).
The Monte Carlo error is a few 1e-3 of the value scale (tests/test_general.py).  A
continuous own type is tabulated on AGV_GRID quantiles of its prior and AGV_GRID evenly spaced
points of its support, and interpolated linearly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
from scipy import special

from center.copula import ConditionalLaw, GaussianCopula, by_prior, groups, latent_of, types_of
from center.priors import Discrete, Uniform

ENUMERATION_LIMIT = 1 << 16
AGV_DRAWS = 32768
AGV_GRID = 257
COPULA_GRID = 65                 # under a copula each grid point needs fresh conditional draws
COPULA_DRAWS = 16384
AGV_SEED = 20110716
GRID_BLOCK = 32                  # AGV grid points per block: (32 × draws) arrays
ROW_BLOCK_ELEMENTS = 1 << 21     # (rows × agents × K × K) held at once by the envelope step


@dataclass(frozen=True)
class AffineValues:
    """v(θ, o) = intercept[o] + slope[o]·θ, θ a scalar with ``prior``."""

    prior: object
    intercept: tuple
    slope: tuple
    name: str = ""

    def __post_init__(self) -> None:
        a, b = np.asarray(self.intercept, float), np.asarray(self.slope, float)
        if a.ndim != 1 or a.size == 0 or a.shape != b.shape:
            raise ValueError("intercept and slope need one number per outcome")
        object.__setattr__(self, "intercept", tuple(map(float, a)))
        object.__setattr__(self, "slope", tuple(map(float, b)))

    @property
    def outcomes(self) -> int:
        return len(self.intercept)

    @property
    def discrete(self) -> bool:
        return bool(self.prior.discrete)

    def support_table(self) -> tuple[np.ndarray, np.ndarray]:
        """Discrete prior only: values (m, K) at each support point, probabilities (m,)."""
        x = np.asarray(self.prior.values)
        return (np.asarray(self.intercept) + np.asarray(self.slope) * x[:, None],
                np.asarray(self.prior.probabilities))

    def largest_value(self) -> float:
        a, b = np.abs(self.intercept), np.abs(self.slope)
        return float(np.max(a + b * max(abs(self.prior.low), abs(self.prior.high))))


@dataclass(frozen=True)
class TableValues:
    """A discrete type space: type t (0, …, m − 1) has ``probabilities[t]`` and values[t][o]."""

    values: tuple
    probabilities: tuple
    name: str = ""
    type_names: tuple = ()

    def __post_init__(self) -> None:
        v = np.asarray(self.values, float)
        if v.ndim != 2 or v.shape[1] == 0:
            raise ValueError("a value table needs one row per type and one column per outcome")
        prior = Discrete(tuple(float(t) for t in range(len(v))), tuple(self.probabilities))
        object.__setattr__(self, "values", tuple(tuple(map(float, row)) for row in v))
        object.__setattr__(self, "probabilities", prior.probabilities)

    @property
    def outcomes(self) -> int:
        return len(self.values[0])

    discrete = True

    @property
    def prior(self) -> Discrete:
        """The type index's distribution (types are indices 0, …, m − 1)."""
        return Discrete(tuple(float(t) for t in range(len(self.values))), self.probabilities)

    def support_table(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.values), np.asarray(self.probabilities)

    def largest_value(self) -> float:
        return float(np.abs(self.values).max())


@dataclass(frozen=True)
class FiniteSetting:
    """n agents, K outcomes, per-agent value functions; M3's h is column ``holder``.

    ``labels`` names each column's role in the study rows (agents with the same label are
    pooled); ``classes`` lists groups of exchangeable agents (same ξ function), so AGV tables
    are built once per group.  ``copula`` correlates the (continuous) types.
    """

    agents: tuple
    outcomes: tuple
    holder: int = 0
    copula: GaussianCopula | None = None
    labels: tuple = ()
    classes: tuple = ()
    name: str = "finite"
    agv_draws: int = field(default=AGV_DRAWS, compare=True)

    def __post_init__(self) -> None:
        if len(self.agents) < 2:
            raise ValueError("a setting needs at least two agents")
        if len(self.outcomes) == 0:
            raise ValueError("a setting needs at least one outcome")
        for i, agent in enumerate(self.agents):
            if agent.outcomes != len(self.outcomes):
                raise ValueError(f"agent {i} has values for {agent.outcomes} outcomes, "
                                 f"not {len(self.outcomes)}")
        if not 0 <= self.holder < len(self.agents):
            raise ValueError(f"holder must be an agent index 0..{len(self.agents) - 1}")
        if self.copula is not None:
            if self.copula.n != len(self.agents):
                raise ValueError("the correlation matrix needs one row per agent")
            if any(not isinstance(a, AffineValues) or a.discrete for a in self.agents):
                raise ValueError("correlated types need continuous priors for every agent")
        if not self.labels:
            object.__setattr__(self, "labels", tuple(a.name or f"agent {i}"
                                                     for i, a in enumerate(self.agents)))
        exchangeable = self.copula is None or len(set(
            x for j, row in enumerate(self.copula.correlation) for k, x in enumerate(row) if j != k)) <= 1
        if not self.classes or not exchangeable:
            object.__setattr__(self, "classes", tuple((i,) for i in range(len(self.agents))))

    # -- what the study machinery reads -------------------------------------------------------

    @property
    def n(self) -> int:
        return len(self.agents)

    @property
    def roles(self) -> tuple[str, ...]:
        return self.labels

    @property
    def role_columns(self) -> tuple:
        """((label, columns), ...) in order of first appearance."""
        out: dict = {}
        for j, label in enumerate(self.labels):
            out.setdefault(label, []).append(j)
        return tuple((label, tuple(cols)) for label, cols in out.items())

    @property
    def loss_tolerance(self) -> float:
        """1e-12 of the largest |value| any agent can have (as in TradeSetting)."""
        return 1e-12 * max(a.largest_value() for a in self.agents)

    @property
    def priors(self) -> tuple:
        return tuple(a.prior for a in self.agents)

    def sample(self, rng: np.random.Generator, profiles: int) -> np.ndarray:
        """Types (R, n), column-major: scalar types, or type indices for value tables.

        Agents with equal priors are drawn in one call (loop over distinct priors only).
        """
        if self.copula is not None:
            return np.asfortranarray(types_of(self.priors, self.copula.latent(rng, profiles)))
        theta = np.empty((profiles, self.n), order="F")
        for prior, cols in groups(self.priors):
            theta[:, cols] = prior.sample(rng, (len(cols), profiles)).T
        return theta

    def batch(self, reports: np.ndarray) -> "FiniteBatch":
        return FiniteBatch(self, np.asarray(reports, dtype=float))

    # -- values -------------------------------------------------------------------------------

    @cached_property
    def _arrays(self) -> dict:
        aff = [i for i, a in enumerate(self.agents) if isinstance(a, AffineValues)]
        tab = [i for i, a in enumerate(self.agents) if isinstance(a, TableValues)]
        k = len(self.outcomes)
        m = max([len(self.agents[i].values) for i in tab], default=1)
        tables = np.zeros((len(tab), m, k))
        for row, i in enumerate(tab):
            tables[row, :len(self.agents[i].values)] = self.agents[i].values
        enum = [i for i, a in enumerate(self.agents) if a.discrete and self.copula is None]
        cont = [i for i in range(self.n) if i not in enum]
        me = max([len(self.agents[i].support_table()[1]) for i in enum], default=1)
        support = np.zeros((len(enum), me, k))
        probs = np.zeros((len(enum), me))
        for row, i in enumerate(enum):
            u, p = self.agents[i].support_table()
            support[row, :len(p)], probs[row, :len(p)] = u, p
        slopes = np.array([self.agents[i].slope for i in cont]).reshape(len(cont), k)
        db = slopes[:, None, :] - slopes[:, :, None]           # [c, o, p] = b_p − b_o
        with np.errstate(divide="ignore"):
            inv = np.where(db != 0, 1.0 / np.where(db != 0, db, 1.0), 0.0)
        order = np.arange(k)
        return {
            "aff": np.asarray(aff, dtype=np.intp), "tab": np.asarray(tab, dtype=np.intp),
            "A": np.array([self.agents[i].intercept for i in aff]).reshape(len(aff), k),
            "B": np.array([self.agents[i].slope for i in aff]).reshape(len(aff), k),
            "tables": tables,
            "enum": np.asarray(enum, dtype=np.intp), "support": support, "probs": probs,
            "cont": np.asarray(cont, dtype=np.intp), "slopes": slopes, "inv_db": inv,
            "rising": db > 0, "falling": db < 0,
            "tied": (db == 0) & (order[None, :, None] != order[None, None, :]),
            "any_tied": bool(np.any((db == 0) & (order[None, :, None] != order[None, None, :]))),
            "earlier": order[None, None, :] < order[None, :, None],
            "low": np.array([self.agents[i].prior.low for i in cont]),
            "high": np.array([self.agents[i].prior.high for i in cont]),
            **_sorted_pairs(slopes),
        }

    def values_of(self, theta: np.ndarray) -> np.ndarray:
        """V (R, n, K): every agent's value for every outcome at types ``theta`` (R, n)."""
        s = self._arrays
        out = np.empty((len(theta), self.n, len(self.outcomes)))
        if len(s["aff"]):
            out[:, s["aff"]] = s["A"] + s["B"] * theta[:, s["aff"], None]
        if len(s["tab"]):
            idx = theta[:, s["tab"]].astype(np.intp)
            out[:, s["tab"]] = s["tables"][np.arange(len(s["tab"]))[None, :], idx]
        return out

    @property
    def externality(self) -> list:
        """Per agent (grid (G,), ξ on the grid (G,)): AGV's tables, built once per process."""
        return cached_tables(self)


class FiniteBatch:
    """Everything the mechanisms need about R reported profiles (R, n) of a FiniteSetting."""

    alike_groups = None       # no pooling shortcut: agents need not be alike

    def __init__(self, setting: FiniteSetting, reports: np.ndarray) -> None:
        if reports.ndim != 2 or reports.shape[1] != setting.n:
            raise ValueError(f"reports must have shape (R, {setting.n}), got {reports.shape}")
        self.setting, self.theta, self.n, self.holder = setting, reports, setting.n, setting.holder
        self.role_columns = setting.role_columns
        self._v = setting.values_of(reports)
        self._s = self._v.sum(axis=1)                       # (R, K) welfare of each outcome
        self.outcome = np.argmax(self._s, axis=1)           # f*(θ)
        self._rows = np.arange(len(reports))

    @cached_property
    def welfare(self) -> np.ndarray:
        return self._s[self._rows, self.outcome]

    @cached_property
    def values(self) -> np.ndarray:
        return self._v[self._rows, :, self.outcome]

    def realised_values(self, true_types: np.ndarray) -> np.ndarray:
        """Values (R, n) of agents with ``true_types`` at the outcome chosen on the reports."""
        return self.setting.values_of(true_types)[self._rows, :, self.outcome]

    @cached_property
    def clarke_pivot(self) -> np.ndarray:
        """max_o v_-i(θ_-i, o), (R, n)."""
        return (self._s[:, None, :] - self._v).max(axis=2)

    @cached_property
    def expected_surplus(self) -> np.ndarray:
        """E_i(θ_-i), (R, n): enumeration for discrete types, exact envelope for continuous."""
        s = self.setting._arrays
        out = np.empty(self.theta.shape, order="F")
        if len(s["enum"]):
            w = self._s[:, None, :] - self._v[:, s["enum"]]          # (R, e, K)
            acc = np.zeros(w.shape[:2])
            for t in range(s["probs"].shape[1]):                   # the types of i, a handful
                acc += s["probs"][:, t] * (w + s["support"][:, t]).max(axis=2)
            out[:, s["enum"]] = acc
        if len(s["cont"]):
            out[:, s["cont"]] = self._continuous(s)
        return out

    def _continuous(self, s) -> np.ndarray:
        cols = s["cont"]
        w = self._s[:, None, :] - self._v[:, cols]                   # (R, c, K)
        c = w + np.asarray([self.setting.agents[i].intercept for i in cols])
        priors = [self.setting.agents[i].prior for i in cols]
        copula = self.setting.copula
        if copula is not None:
            z = latent_of(self.setting.priors, self.theta)
            mu, sigma = copula.conditional_mean(z)[:, cols], copula.conditional_sigma[cols]
        else:
            cdf = lambda x: by_prior(priors, lambda p, v: p.cdf(v), x)
            pm = lambda x: by_prior(priors, lambda p, v: p.partial_mean(v), x)
        out = np.empty(c.shape[:2])
        k = c.shape[2]
        step = max(1, ROW_BLOCK_ELEMENTS // max(1, len(cols) * k * k))
        slopes = s["slopes"] if s["any_tied"] else s["sorted_slopes"]
        uniform_width = None
        if copula is None and all(type(p) is Uniform for p in priors):
            uniform_width = np.array([p.high - p.low for p in priors])[:, None]
        for start in range(0, len(c), step):                       # row blocks: bounded memory
            sl = slice(start, start + step)
            if copula is not None:                  # the block's own conditional laws
                law = ConditionalLaw(priors, mu[sl], sigma)
                cdf, pm = law.cdf, law.partial_mean
            if s["any_tied"]:
                block = c[sl]
                lo, hi, keep = envelope(block, s)
            else:
                block = np.take_along_axis(c[sl], s["perm"][None], axis=2)
                lo, hi, keep = sorted_envelope(block, s)
            if uniform_width is not None:       # F and PM are polynomials on the support
                piece = (block * (hi - lo) + (0.5 * slopes) * (hi * hi - lo * lo)) / uniform_width
            else:
                f_lo, f_hi, p_lo, p_hi = cdf(lo), cdf(hi), pm(lo), pm(hi)
                piece = block * (f_hi - f_lo) + slopes * (p_hi - p_lo)
            out[sl] = (piece if keep is None else np.where(keep, piece, 0.0)).sum(axis=2)
        return out

    @cached_property
    def expected_externality(self) -> np.ndarray:
        """AGV's ξ_i(θ_i), (R, n), from the setting's tables (linear interpolation)."""
        out = np.empty(self.theta.shape, order="F")
        for members, (grid, xi) in zip(self.setting.classes, _class_tables(self.setting)):
            cols = list(members)
            out[:, cols] = np.interp(self.theta[:, cols], grid, xi)
        return out


def envelope(c: np.ndarray, s: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each line c_o + b_o·x is the (first) highest, clipped to each agent's support.

    c (r, k, K) intercepts per row and agent, slopes s["slopes"] (k, K).  Line o beats line p
    for x below (c_o − c_p)/(b_p − b_o) when b_p > b_o and above it when b_p < b_o; with equal
    slopes the higher intercept (then the lower index) wins everywhere.  Returns lo, hi (r, k, K)
    and keep (r, k, K): the line owns a piece of positive length.
    """
    dc = c[..., :, None] - c[..., None, :]                  # [.., o, p] = c_o − c_p
    cross = dc * s["inv_db"]
    hi = np.min(cross, axis=-1, where=s["rising"], initial=np.inf)
    lo = np.max(cross, axis=-1, where=s["falling"], initial=-np.inf)
    if s["any_tied"]:
        beaten = np.any(s["tied"] & ((dc < 0) | ((dc == 0) & s["earlier"])), axis=-1)
    else:                                                   # distinct slopes: nobody is beaten
        beaten = False
    lo = np.clip(lo, s["low"][:, None], s["high"][:, None])
    hi = np.clip(hi, s["low"][:, None], s["high"][:, None])
    return lo, hi, (hi > lo) & ~beaten


def _sorted_pairs(slopes: np.ndarray) -> dict:
    """Precomputed pairs for ``sorted_envelope``: outcomes sorted by slope per agent, and the
    pairs (I < J) of sorted positions grouped by I (for hi) and by J (for lo)."""
    c, k = slopes.shape
    perm = np.argsort(slopes, axis=1, kind="stable")
    ordered = np.take_along_axis(slopes, perm, axis=1)
    first, second = np.triu_indices(k, 1)                  # grouped by first, ascending
    with np.errstate(divide="ignore"):
        inv = 1.0 / (ordered[:, second] - ordered[:, first])
    by_second = np.argsort(second, kind="stable")
    return {"perm": perm, "sorted_slopes": ordered, "pair_first": first, "pair_second": second,
            "pair_inv": inv, "by_second": by_second,
            "first_starts": np.searchsorted(first, np.arange(k - 1)),
            "second_starts": np.searchsorted(second[by_second], np.arange(1, k))}


def sorted_envelope(c: np.ndarray, s: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``envelope`` for agents whose slopes are distinct, with outcomes sorted by slope.

    Line I (slope b_I) beats every steeper line J > I left of their crossing, and every
    flatter one right of it, so hi_I = min over J > I and lo_J = max over I < J of the pair's
    crossing: each pair is computed once and reduced by contiguous groups (no masks).  Empty
    pieces come back as [lo, lo] (keep is None: nothing to mask).
    """
    k = c.shape[-1]
    cross = (c[..., s["pair_first"]] - c[..., s["pair_second"]]) * s["pair_inv"]
    hi = np.full(c.shape, np.inf)
    lo = np.full(c.shape, -np.inf)
    if k > 1:
        hi[..., :-1] = np.minimum.reduceat(cross, s["first_starts"], axis=-1)
        lo[..., 1:] = np.maximum.reduceat(cross[..., s["by_second"]], s["second_starts"], axis=-1)
    lo = np.clip(lo, s["low"][:, None], s["high"][:, None])
    hi = np.clip(hi, s["low"][:, None], s["high"][:, None])
    np.maximum(hi, lo, out=hi)                 # an empty piece becomes [lo, lo]: it adds 0
    return lo, hi, None


# -- AGV tables ------------------------------------------------------------------------------

@lru_cache(maxsize=16)
def cached_tables(setting: FiniteSetting) -> list:
    """AGV tables by setting (a frozen, hashable value): every chunk a worker process runs for
    the same setting reuses them."""
    return externality_tables(setting)


def _class_tables(setting: FiniteSetting) -> list:
    tables = setting.externality
    return [tables[members[0]] for members in setting.classes]


def externality_tables(setting: FiniteSetting) -> list:
    """(grid, ξ) per agent; exchangeable agents (``classes``) share their first member's."""
    out: list = [None] * setting.n
    for members in setting.classes:
        table = _agent_table(setting, members[0])
        for i in members:
            out[i] = table
    return out


def _own_points(agent, grid: int = AGV_GRID) -> np.ndarray:
    if agent.discrete:
        return np.asarray(agent.prior.values, float)
    u = (np.arange(grid) + 0.5) / grid
    # Quantiles resolve where the own type's mass is; a uniform grid over the support resolves
    # ξ where the others' mass is (a type the own prior makes rare can still be drawn).
    even = np.linspace(agent.prior.low, agent.prior.high, grid)
    return np.unique(np.concatenate([agent.prior.ppf(u), even]))


def _agent_table(setting: FiniteSetting, i: int) -> tuple[np.ndarray, np.ndarray]:
    points = _own_points(setting.agents[i], AGV_GRID if setting.copula is None else COPULA_GRID)
    rest = [j for j in range(setting.n) if j != i]
    rng = np.random.default_rng(np.random.SeedSequence(AGV_SEED, spawn_key=(i,)))
    own = np.zeros((len(points), setting.n))
    own[:, i] = points
    mine = setting.values_of(own)[:, i]                       # (G, K) v_i(t, o)
    if setting.copula is not None:
        xi = _copula_table(setting, i, points, mine, rng)
        return points, xi
    others, weights = _others(setting, rest, rng)
    w_t = setting.values_of(others)[:, rest].sum(axis=1).T     # (K, M) Σ_{j≠i} v_j
    xi = np.empty(len(points))
    for start in range(0, len(points), GRID_BLOCK):            # blocks of grid points
        block = slice(start, start + GRID_BLOCK)
        xi[block] = np.einsum("gm,m->g", _others_at_best(mine[block], w_t), weights)
    return points, xi


def _others_at_best(mine: np.ndarray, w_t: np.ndarray) -> np.ndarray:
    """Σ_{j≠i} v_j at the efficient outcome, (G, M), for own values ``mine`` (G, K) and the
    others' ``w_t`` (K, M): a running maximum over the K outcomes (the first one on ties, as
    argmax), vectorised over grid points and draws — argmax over short rows is far slower."""
    best = mine[:, :1] + w_t[0]
    at_best = np.broadcast_to(w_t[0], best.shape).copy()
    for o in range(1, len(w_t)):
        value = mine[:, o:o + 1] + w_t[o]
        better = value > best
        np.copyto(best, value, where=better)
        np.copyto(at_best, np.broadcast_to(w_t[o], best.shape), where=better)
    return at_best


def _others(setting: FiniteSetting, rest: list, rng) -> tuple[np.ndarray, np.ndarray]:
    """Profiles of the other agents (column i left 0) with weights summing to 1."""
    agents = setting.agents
    sizes = [len(agents[j].prior.values) if agents[j].discrete else 0 for j in rest]
    if all(sizes) and np.prod(sizes, dtype=float) <= ENUMERATION_LIMIT:
        grids = np.meshgrid(*[np.asarray(agents[j].prior.values) for j in rest], indexing="ij")
        probs = np.meshgrid(*[np.asarray(agents[j].prior.probabilities) for j in rest],
                            indexing="ij")
        theta = np.zeros((grids[0].size, setting.n))
        theta[:, rest] = np.stack([g.ravel() for g in grids], axis=1)
        return theta, np.prod([p.ravel() for p in probs], axis=0)
    theta = np.zeros((setting.agv_draws, setting.n))
    for j in rest:
        theta[:, j] = agents[j].prior.ppf(_stratified(rng, setting.agv_draws))
    return theta, np.full(setting.agv_draws, 1.0 / setting.agv_draws)


def _stratified(rng, m: int) -> np.ndarray:
    """Latin hypercube uniforms: one draw in each of m equal strata, in random order."""
    return (rng.permutation(m) + rng.random(m)) / m


def _copula_table(setting: FiniteSetting, i: int, points, mine, rng) -> np.ndarray:
    """ξ_i(t) with θ_-i drawn from its conditional law given θ_i = t (common random numbers)."""
    copula, priors = setting.copula, setting.priors
    rest = [j for j in range(setting.n) if j != i]
    draws = min(setting.agv_draws, COPULA_DRAWS)
    coef, chol = copula.given(i, 0.0)
    u = np.stack([_stratified(rng, draws) for _ in rest], axis=1)
    eps = special.ndtri(u) @ chol.T
    zi = special.ndtri(np.clip(priors[i].cdf(points), 1e-16, 1 - 1e-16))
    xi = np.empty(len(points))
    theta = np.zeros((draws, setting.n))
    for g in range(len(points)):
        theta[:, rest] = types_of([priors[j] for j in rest], zi[g] * coef + eps)
        w_t = setting.values_of(theta)[:, rest].sum(axis=1).T
        xi[g] = _others_at_best(mine[g:g + 1], w_t)[0].mean()
    return xi


# -- the symmetric settings and trade as finite settings -------------------------------------

def trade(n: int, holder_prior, buyer_prior, copula: GaussianCopula | None = None) -> FiniteSetting:
    """Single-item trade as a finite setting: outcome 0 keeps the item, outcome j gives it to
    buyer j (values −θ_0 for the holder, θ_j for the receiving buyer)."""
    k = n
    holder = AffineValues(holder_prior, (0.0,) * k, (0.0,) + (-1.0,) * (k - 1), "holder")
    buyers = tuple(AffineValues(buyer_prior, (0.0,) * k, tuple(float(o == j) for o in range(k)),
                                "buyer") for j in range(1, n))
    return FiniteSetting((holder,) + buyers, ("keep",) + tuple(f"to {j}" for j in range(1, n)),
                         0, copula, ("holder",) + ("buyer",) * (n - 1),
                         ((0,), tuple(range(1, n))), "trade")


def public_project(n: int, prior, cost: float = 0.0, holder: int = 0,
                   copula: GaussianCopula | None = None) -> FiniteSetting:
    """Build or not: agent i gets θ_i − cost/n if built, 0 if not (θ_i may be negative)."""
    agent = AffineValues(prior, (0.0, -cost / n), (0.0, 1.0))
    return FiniteSetting((agent,) * n, ("not built", "built"), holder, copula,
                         _symmetric_labels(n, holder), (tuple(range(n)),), "public_project")


def single_item(n: int, prior, holder: int = 0,
                copula: GaussianCopula | None = None) -> FiniteSetting:
    """One item, no initial holder: outcome 0 allocates it to nobody, outcome j + 1 to agent j."""
    agents = tuple(AffineValues(prior, (0.0,) * (n + 1),
                                tuple(float(o == j + 1) for o in range(n + 1))) for j in range(n))
    return FiniteSetting(agents, ("nobody",) + tuple(f"to {j}" for j in range(n)), holder, copula,
                         _symmetric_labels(n, holder), (tuple(range(n)),), "single_item")


def _symmetric_labels(n: int, holder: int) -> tuple:
    """M3 treats h apart; the other agents are alike and pooled."""
    return tuple("h" if j == holder else "others" for j in range(n))
