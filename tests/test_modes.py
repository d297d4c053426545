"""Multimodal posteriors: the live points split into clusters, jumps move chains between
modes in proportion to their volume, and the mass of each mode comes out right; the
result finds the modes, their masses and errors (slicens.host.modes), and flags a mode that
lost its live points."""

import numpy as np
import pytest

import slicens
from slicens.host import modes
from slicens.host.finalise import _warn_if_modes_depleted
from slicens.problems import weighted_mixture

pytestmark = pytest.mark.timeout(600)

WEIGHTS = np.array([0.4, 0.3, 0.2, 0.1])
PROBLEM = weighted_mixture(3, tuple(WEIGHTS))
CENTRES = np.outer(-0.5 + np.arange(4) / 3, np.ones(3))
SEEDS = range(4)


@pytest.fixture(scope="module")
def mixture_runs():
    return [slicens.run(PROBLEM.loglike, PROBLEM.prior, n_live=200, seed=seed, progress=False)
            for seed in SEEDS]


def _masses(result):
    """Posterior mass of each mode (dead points by nearest centre) and the standard
    error of each weighted fraction, sqrt(sum w^2 (1_mode - mass)^2): what exact nested
    sampling scatters by (benchmarks/mode_weights.py)."""
    nearest = np.argmin(np.sum((result.positions[:, None, :] - CENTRES[None]) ** 2, -1), 1)
    w = result.weights / result.weights.sum()
    member = nearest[:, None] == np.arange(4)[None, :]
    masses = w @ member
    errors = np.sqrt(np.sum(w[:, None] ** 2 * (member - masses[None, :]) ** 2, axis=0))
    return masses, errors


def test_clusters_are_found_and_recorded(mixture_runs):
    for result in mixture_runs:
        clusters = result.clusters_per_iteration
        assert clusters.size == result.n_iterations
        assert clusters[0] == 1  # live points spread over the prior: one region
        assert clusters.max() >= 3  # the modes, once the contour separates them (the
        # lightest may die before the last two part)
        assert np.all(clusters <= result.settings["max_clusters"])


def test_mode_masses_match_the_weights(mixture_runs):
    """Every mode's mass within 5 standard errors of its weight (the error exact nested
    sampling would scatter by; slicens's scatter is measured against it in
    benchmarks/mode_weights.py), never below a third of it; logZ within 3 sigma."""
    for result in mixture_runs:
        masses, errors = _masses(result)
        assert np.all(np.abs(masses - WEIGHTS) < 5 * errors), (masses, errors)
        assert np.all(masses > WEIGHTS / 3), masses
        assert abs(result.logZ - PROBLEM.logZ) < 3 * result.logZ_err


def test_result_reports_each_mode_with_an_honest_error(mixture_runs):
    """result.modes finds the four modes in at least three of the four runs; their
    masses are the weighted dead points nearest each centre, within 4 bootstrap errors of
    the weights; none is flagged; the summary lists them. A run that finds fewer has
    joined neighbouring modes, whose masses add up. (At n_live 200 the finder joins two
    neighbours in some runs: 4 of 32 seeds at 7b7ef47, 6 of 32 now, measured on seeds
    8-39; this test's four seeds all found four at 7b7ef47 and three of four now. The
    errors' calibration over 20 seeds at n_live 500, exact nested sampling and slicens:
    benchmarks/mode_weights.py.)"""
    complete = [r for r in mixture_runs if r.modes.mass.size == 4]
    assert len(complete) >= 3, [r.modes.mass for r in mixture_runs]
    for result in mixture_runs:
        if result.modes.mass.size < 4:  # neighbours joined: each mass a sum of weights
            masses, _ = _masses(result)
            found = np.sort(result.modes.mass)
            assert found.size == 3 and abs(found.sum() - 1) < 1e-12, found
            joined = [np.sort(np.r_[np.delete(masses, [j, j + 1]), masses[j] + masses[j + 1]])
                      for j in range(3)]
            assert min(np.max(np.abs(found - m)) for m in joined) < 0.02, (found, masses)
    for result in complete:
        found = result.modes
        assert np.all(np.diff(found.mass) <= 0)  # heaviest first
        assert abs(found.mass.sum() - 1) < 1e-12
        matched = np.argmin(np.sum((found.centre[:, None] - CENTRES[None]) ** 2, -1), 1)
        assert sorted(matched) == [0, 1, 2, 3], found.centre
        masses, _ = _masses(result)
        np.testing.assert_allclose(found.mass, masses[matched], atol=0.01)
        assert np.all(found.mass_err > 0)
        assert np.all(np.abs(found.mass - WEIGHTS[matched]) < 4 * found.mass_err), (
            found.mass, found.mass_err)
        assert found.depleted().size == 0
        assert np.all(found.label[found.label >= 0] < 4) and found.label.size == result.loglike.size
        assert "4 modes" in result.summary()


def _biased_nested_sampling(keep_right: float, seed: int, n_live=200, num_delete=20):
    """Nested sampling of two equal Gaussian modes at x = -0.5 and +0.5 (2-d, prior box
    [-1, 1]^2) by rejection from the prior, keeping a draw in the right half only with
    probability ``keep_right``: at 1 exact, below 1 the right mode loses live points as
    a sampler whose chains cannot move between modes can. Returns the dead points."""
    rng = np.random.default_rng(seed)

    def loglike(x):
        return np.logaddexp(-0.5 * np.sum((x - [-0.5, 0]) ** 2, -1) / 0.01,
                            -0.5 * np.sum((x - [0.5, 0]) ** 2, -1) / 0.01)

    def draw(contour, n):
        out = np.zeros((0, 2))
        while len(out) < n:
            x = rng.uniform(-1, 1, size=(4096, 2))
            keep = (loglike(x) > contour) & ((x[:, 0] < 0) | (rng.uniform(size=4096) < keep_right))
            out = np.concatenate([out, x[keep]])
        return out[:n]

    live = draw(-np.inf, n_live)
    live_l, live_birth = loglike(live), np.full(n_live, -np.inf)
    dead = []
    while live_l.max() - np.sort(live_l)[num_delete] > 0.05:
        order = np.argsort(live_l)[:num_delete]
        dead += [(live[i], live_l[i], live_birth[i]) for i in order]
        contour = live_l[order[-1]]
        live[order] = draw(contour, num_delete)
        live_l[order], live_birth[order] = loglike(live[order]), contour
    dead += [(live[i], live_l[i], live_birth[i]) for i in np.argsort(live_l)]
    positions, loglike_, birth = (np.array(a) for a in zip(*dead, strict=True))
    counts = slicens.core.evidence.live_counts(loglike_, birth, birth == -np.inf)
    stats = slicens.core.evidence.statistics(loglike_, counts, rng, n_draws=10)
    return modes.find_modes(positions, loglike_, birth, stats.log_weights, n_live)


def test_threads_partition_a_run_into_n_live_chains():
    loglike = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    birth = np.array([-np.inf, -np.inf, -np.inf, 2.0, 2.0, 4.0, 4.0])  # 3 live, 2 per iteration
    thread = modes.threads(loglike, birth, 3)
    assert sorted(thread[:3]) == [0, 1, 2]
    # births at 2.0 continue the points that died at 1.0 and 2.0; at 4.0 those of 3.0, 4.0
    assert {thread[3], thread[4]} == {thread[0], thread[1]}
    assert {thread[5], thread[6]} == {thread[2], thread[3]}


def test_a_depleted_mode_is_flagged_and_warned_about():
    """Exact sampling of two equal modes: masses 1/2 each within errors, nothing flagged.
    Keeping one mode's new draws only 1 time in 20 starves it of live points: its mass
    falls far below 1/2 (the bootstrap error cannot see that), it is flagged, and run's
    warning names it."""
    exact = _biased_nested_sampling(1.0, seed=1)
    assert exact.mass.size == 2 and exact.depleted().size == 0
    assert np.all(np.abs(exact.mass - 0.5) < 4 * exact.mass_err), (exact.mass, exact.mass_err)
    starved = _biased_nested_sampling(0.05, seed=1)
    light = int(np.argmin(starved.mass))
    assert starved.centre[light, 0] > 0 and starved.mass[light] < 0.25
    assert starved.mass[light] + 10 * starved.mass_err[light] < 0.5
    assert list(starved.depleted()) == [light]
    with pytest.warns(RuntimeWarning, match=f"mode {light} of 2 .* live points"):
        _warn_if_modes_depleted(starved)


def test_depletion_needs_a_significant_shortfall():
    def flagged(live_points, volume_share):
        return modes.Modes(np.zeros(1, int), np.ones(2) / 2, np.ones(2), np.zeros((2, 1)), 0.0,
                           np.array(live_points), np.array(volume_share)).depleted()

    assert list(flagged([190, 10], [0.5, 0.5])) == [1]
    assert list(flagged([130, 70], [0.5, 0.5])) == []  # 0.7 of its share: within the slack
    assert list(flagged([198, 2], [0.98, 0.02])) == []  # too few expected to tell


def test_modes_in_the_diagnostics_figure_and_after_loading(mixture_runs, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from slicens import plots

    result = mixture_runs[0]
    figure = plots.diagnostics(result)
    keys = [text.get_text() for axis in figure.axes if axis.get_legend()
            for text in axis.get_legend().get_texts()]
    assert sum(key.startswith("mode ") for key in keys) == 4, keys
    loaded = slicens.load(result.save(tmp_path / "mixture.npz"))
    np.testing.assert_array_equal(loaded.modes.mass, result.modes.mass)
    np.testing.assert_array_equal(loaded.modes.mass_err, result.modes.mass_err)
