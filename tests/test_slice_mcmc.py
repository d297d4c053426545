"""The slice chain on its own: it samples the constrained prior and respects the contour."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from slicens.core import ellipsoids, kernel, slice_mcmc
from slicens.core.chunking import lane_map
from slicens.priors import IndependentPrior, Normal, Uniform

MAX_EXPANSIONS, MAX_SHRINKAGE = 10, 100


def run_chains(prior, loglike, contour, start, plans, shapes, max_shrinkage=MAX_SHRINKAGE,
               settle=True, with_stats=False):
    """Chains (one per plan, all from ``start``) to completion on 64 lanes; ``shapes``:
    the regions (``ellipsoids.single_region(factor)`` for one)."""

    def evaluate(x):
        return loglike(x), prior.log_density(x)

    n = plans.offset.shape[0]
    settings = kernel.Settings(2, 1, plans.offset.shape[1], MAX_EXPANSIONS, max_shrinkage)
    item = kernel.chain_item(contour, settings, prior, shapes)
    if not settle:  # evaluate every proposal, known outcome or not
        item = item._replace(settle=None)
    starts = (
        jnp.broadcast_to(start, (n,) + start.shape),
        jnp.full(n, loglike(start)),
        jnp.full(n, prior.log_density(start)),
    )
    chains, stats = lane_map(item, evaluate, (starts, plans), 64)
    return (chains, stats) if with_stats else chains


def _run_chains(prior, loglike, contour, start, n_chains, num_steps, seed=0):
    shapes = ellipsoids.single_region(jnp.linalg.cholesky(jnp.eye(prior.dim) * 0.5))

    def plans(keys):
        return jax.vmap(lambda k: slice_mcmc.make_plan(k, shapes, num_steps, MAX_EXPANSIONS))(keys)

    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(seed), i))(jnp.arange(n_chains))
    return jax.jit(lambda k: run_chains(prior, loglike, contour, start, plans(k), shapes))(keys)


def test_unconstrained_chain_samples_a_uniform_prior():
    prior = IndependentPrior((Uniform(-1.0, 1.0), Uniform(0.0, 3.0)))
    chains = _run_chains(prior, lambda x: 0.0 * x[0], -jnp.inf, jnp.array([0.0, 1.0]), 2000, 10)
    x = np.asarray(chains.position)
    assert np.all(chains.phase == slice_mcmc.DONE)
    assert stats.kstest(x[:, 0], stats.uniform(-1, 2).cdf).pvalue > 1e-3
    assert stats.kstest(x[:, 1], stats.uniform(0, 3).cdf).pvalue > 1e-3


def test_unconstrained_chain_samples_a_normal_prior():
    prior = IndependentPrior((Normal(1.0, 2.0), Normal(-1.0, 0.5)))
    chains = _run_chains(prior, lambda x: 0.0 * x[0], -jnp.inf, jnp.array([1.0, -1.0]), 2000, 10)
    x = np.asarray(chains.position)
    assert stats.kstest(x[:, 0], stats.norm(1, 2).cdf).pvalue > 1e-3
    assert stats.kstest(x[:, 1], stats.norm(-1, 0.5).cdf).pvalue > 1e-3


def test_constrained_chain_stays_inside_and_is_uniform_in_the_contour():
    """Inside the disc r < 0.5, the radius of uniform points has CDF (r / 0.5)^2."""
    prior = IndependentPrior((Uniform(-1.0, 1.0), Uniform(-1.0, 1.0)))

    def loglike(x):
        return -jnp.sum(x**2)

    contour = -(0.5**2)
    chains = _run_chains(prior, loglike, contour, jnp.array([0.1, 0.0]), 2000, 10)
    assert np.all(chains.loglike > contour)
    r = np.sqrt(np.sum(np.asarray(chains.position) ** 2, axis=1))
    assert stats.kstest(r, lambda s: np.clip(s / 0.5, 0, 1) ** 2).pvalue > 1e-3
    # every evaluation of a step but the accepted one is a bracket end or a rejection
    assert np.all(chains.n_evals >= 10)


def test_nonfinite_likelihood_is_never_accepted_and_is_counted():
    prior = IndependentPrior((Uniform(-1.0, 1.0),))

    def loglike(x):
        return jnp.where(x[0] > 0, jnp.nan, 0.0)

    chains = _run_chains(prior, loglike, -jnp.inf, jnp.array([-0.5]), 200, 5)
    assert np.all(np.asarray(chains.position) <= 0)
    assert int(np.sum(chains.n_invalid)) > 0


def test_exhausted_shrinkage_leaves_the_chain_in_place():
    """A contour no point can beat: every step fails and the chain stays at its start."""
    prior = IndependentPrior((Uniform(-1.0, 1.0),))

    def loglike(x):
        return -jnp.abs(x[0])

    shapes = ellipsoids.single_region(jnp.eye(1))
    plan = slice_mcmc.make_plan(jax.random.key(3), shapes, 4, MAX_EXPANSIONS)
    plans = jax.tree.map(lambda a: a[None], plan)
    start = jnp.array([0.0])
    chains = run_chains(prior, loglike, 0.0, start, plans, shapes, max_shrinkage=7)
    chain = jax.tree.map(lambda a: a[0], chains)
    assert int(chain.n_failed_steps) == 4
    np.testing.assert_array_equal(chain.position, start)
    assert int(chain.step) == 4 and int(chain.phase) == slice_mcmc.DONE


def test_known_rejections_cost_no_evaluation_and_leave_the_path_unchanged():
    """Proposals below the slice level under the prior density (outside a uniform prior's
    support, or in a normal prior's tail) are rejected without the likelihood: the chains
    take exactly the path they take when every proposal is evaluated, with fewer
    evaluations."""
    prior = IndependentPrior((Uniform(0.0, 1.0), Normal(0.0, 1.0)))
    start = jnp.array([0.02, 0.5])  # near the uniform's edge: many ends fall outside
    shapes = ellipsoids.single_region(jnp.linalg.cholesky(jnp.eye(2) * 0.3))
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(3), i))(jnp.arange(256))
    plans = jax.vmap(lambda k: slice_mcmc.make_plan(k, shapes, 5, MAX_EXPANSIONS))(keys)

    def loglike(x):
        return -0.5 * jnp.sum((x - 0.3) ** 2) / 0.2**2

    contour = loglike(jnp.array([0.9, 0.3]))
    runs = {settle: jax.jit(lambda p, settle=settle: run_chains(
        prior, loglike, contour, start, p, shapes, settle=settle, with_stats=True))(plans)
        for settle in (True, False)}
    (settled, settled_stats), (evaluated, evaluated_stats) = runs[True], runs[False]
    for name in ("position", "loglike", "logprior", "n_evals", "n_failed_steps", "step"):
        np.testing.assert_array_equal(getattr(settled, name), getattr(evaluated, name), name)
    assert int(jnp.sum(evaluated.n_known)) == 0
    known = int(jnp.sum(settled.n_known))
    assert known > 0.1 * int(evaluated_stats.useful)  # the saving is real here
    assert int(settled_stats.useful) == int(evaluated_stats.useful) - known
    assert int(jnp.sum(settled.n_invalid)) == 0


@functools.lru_cache
def _jump_program(prior, loglike, contour, max_jumps):
    """One compiled program per problem; the switches are arguments, not constants."""
    settings = kernel.Settings(2, 1, 1, MAX_EXPANSIONS, MAX_SHRINKAGE)

    def evaluate(x):
        return loglike(x), prior.log_density(x)

    @jax.jit
    def go(keys, starts, ellipsoid, gate_on_ellipsoid, until_accepted):
        item = kernel.chain_item(contour, settings, prior, ellipsoid)

        def plan(key, start):
            allowed = ellipsoid.contains(start) | ~gate_on_ellipsoid
            return slice_mcmc.make_plan(key, ellipsoid, 1, MAX_EXPANSIONS, steps=0,
                                        max_jumps=max_jumps,
                                        num_jumps=jnp.where(allowed, max_jumps, 0),
                                        until_accepted=until_accepted)

        jobs = ((starts, jax.vmap(loglike)(starts), jax.vmap(prior.log_density)(starts)),
                jax.vmap(plan)(keys, starts))
        return lane_map(item, evaluate, jobs, 64)[0]

    return go


def _jump_only_chains(prior, loglike, contour, starts, ellipsoid, max_jumps, *,
                      gate_on_ellipsoid=True, until_accepted=False, seed=0):
    """Chains that only jump (no slice step), one from each start, on 64 lanes."""
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(seed), i))(
        jnp.arange(starts.shape[0]))
    go = _jump_program(prior, loglike, contour, max_jumps)
    return go(keys, starts, ellipsoid, jnp.asarray(gate_on_ellipsoid),
              jnp.asarray(until_accepted))


def _minus_r2(x):
    return -jnp.sum(x**2)


def _flat(x):
    return 0.0 * x[0]


def _uniform_in_disc(n, radius, seed):
    rng = np.random.default_rng(seed)
    r = radius * np.sqrt(rng.uniform(size=n))
    angle = rng.uniform(0, 2 * np.pi, n)
    return jnp.asarray(np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1))


def test_jumps_keep_the_constrained_prior_invariant_even_from_a_poor_ellipsoid():
    """Uniform points in the disc r < 0.5 stay uniform after ellipsoid jumps, although
    the ellipsoid (a disc of radius 0.4 centred at (0.3, 0)) covers only part of it:
    the jump is a Metropolis independence proposal, exact for any ellipsoid. Letting
    starts outside the ellipsoid jump too (no Metropolis gate) visibly breaks it."""
    prior = IndependentPrior((Uniform(-1.0, 1.0), Uniform(-1.0, 1.0)))
    loglike, contour = _minus_r2, -(0.5**2)
    ellipsoid = ellipsoids.Ellipsoids.one(jnp.array([0.3, 0.0]), jnp.eye(2), jnp.asarray(0.4))
    starts = _uniform_in_disc(4000, 0.5, seed=1)

    def uniform_in_disc_pvalues(chains):
        x = np.asarray(chains.position)
        r = np.sqrt(np.sum(x**2, axis=1))
        # x-coordinate of uniform points in a disc of radius a: CDF from the chord area
        a = 0.5
        def x_cdf(s):
            s = np.clip(s / a, -1, 1)
            return 0.5 + (s * np.sqrt(1 - s**2) + np.arcsin(s)) / np.pi
        return (stats.kstest(r, lambda s: np.clip(s / a, 0, 1) ** 2).pvalue,
                stats.kstest(x[:, 0], x_cdf).pvalue)

    chains = _jump_only_chains(prior, loglike, contour, starts, ellipsoid, 3,
                               until_accepted=True)
    assert np.all(chains.loglike > contour)
    jumped = float(np.mean(chains.jumped))
    assert 0.3 < jumped < 0.9  # the jumps did move points, and not all of them
    assert min(uniform_in_disc_pvalues(chains)) > 1e-3

    ungated = _jump_only_chains(prior, loglike, contour, starts, ellipsoid, 3,
                                gate_on_ellipsoid=False, until_accepted=True)
    assert min(uniform_in_disc_pvalues(ungated)) < 1e-6


def test_jumps_under_a_normal_prior_keep_it_invariant():
    """The jump's Metropolis test weighs the prior density: normal draws stay normal
    (every jump tried: stopping at the first accepted one is exact only for a constant
    density, and fails this test)."""
    prior = IndependentPrior((Normal(1.0, 2.0), Normal(-1.0, 0.5)))
    starts = prior.sample(jax.random.key(5), 12000)
    ellipsoid = ellipsoids.Ellipsoids.one(jnp.array([1.0, -1.0]), jnp.diag(jnp.array([2.0, 0.5])),
                                     jnp.asarray(2.5))
    chains = _jump_only_chains(prior, _flat, -jnp.inf, starts, ellipsoid, 4)
    x = np.asarray(chains.position)
    assert float(np.mean(chains.jumped)) > 0.5
    assert stats.kstest(x[:, 0], stats.norm(1, 2).cdf).pvalue > 1e-3
    assert stats.kstest(x[:, 1], stats.norm(-1, 0.5).cdf).pvalue > 1e-3
    stopped = _jump_only_chains(prior, _flat, -jnp.inf, starts, ellipsoid, 4,
                                until_accepted=True)
    x = np.asarray(stopped.position)
    assert min(stats.kstest(x[:, 0], stats.norm(1, 2).cdf).pvalue,
               stats.kstest(x[:, 1], stats.norm(-1, 0.5).cdf).pvalue) < 1e-4


def _nearest_disc_r2(x):
    return -jnp.minimum(jnp.sum((x - jnp.array([-0.25, 0.0])) ** 2),
                        jnp.sum((x - jnp.array([0.25, 0.0])) ** 2))


def test_jumps_from_overlapping_ellipsoids_stay_uniform():
    """Jumps drawn from a union of overlapping ellipsoids (one of them listed twice, so
    its region is proposed three times as often as the other's without the correction)
    keep uniform points in two overlapping discs uniform: a proposal is kept with
    probability 1 / (ellipsoids holding it), which makes the union's draws uniform."""
    prior = IndependentPrior((Uniform(-1.0, 1.0), Uniform(-1.0, 1.0)))
    contour = -(0.5**2)
    left, right = jnp.array([-0.25, 0.0]), jnp.array([0.25, 0.0])
    union = ellipsoids.Ellipsoids.make(jnp.stack([left, left, right]), jnp.stack([jnp.eye(2)] * 3),
                                  jnp.array([0.45, 0.45, 0.45]))
    rng = np.random.default_rng(3)

    def uniform_in_target(n):
        x = rng.uniform(-1, 1, size=(8 * n, 2))
        keep = np.asarray(jax.vmap(_nearest_disc_r2)(jnp.asarray(x))) > contour
        return x[keep][:n]

    starts = jnp.asarray(uniform_in_target(4000))
    chains = _jump_only_chains(prior, _nearest_disc_r2, contour, starts, union, 3,
                               until_accepted=True)
    assert np.all(chains.loglike > contour)
    assert 0.5 < float(np.mean(chains.jumped)) < 0.99
    x = np.asarray(chains.position)
    reference = uniform_in_target(20000)
    assert stats.ks_2samp(x[:, 0], reference[:, 0]).pvalue > 1e-3
    assert stats.ks_2samp(x[:, 1], reference[:, 1]).pvalue > 1e-3
