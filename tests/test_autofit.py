"""The PyAutoFit backend: PyAutoFit's canonical 1-d Gaussian example, a model with a
shared prior against af.Nautilus, af.NSS's constructor contract, capability
declarations, outputs that survive PyAutoFit's clean-up, and resumption of a run stopped
by a budget. Runs on both autofit lines the project supports (2026.7 on Python 3.11,
>= 2026.10 on 3.12+)."""

import importlib.util
import inspect
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("PYAUTO_SKIP_WORKSPACE_VERSION_CHECK", "1")
import autofit as af  # noqa: E402 (an optional extra of slicens; `make test` installs it)
from autonerves import conf  # noqa: E402

import slicens  # noqa: E402
from slicens.autofit import LEGACY_AUTOFIT, NSS, unit_cube_prior  # noqa: E402
from slicens.host.search_method import BOUNDED_SETTINGS  # noqa: E402

EXAMPLE = Path(__file__).parents[1] / "examples" / "autofit_gaussian.py"
_spec = importlib.util.spec_from_file_location("autofit_gaussian", EXAMPLE)
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

#: af.NSS's constructor (autofit 2026.10.26.1), which slicens.autofit.NSS must accept.
AF_NSS_ARGUMENTS = ("name", "path_prefix", "unique_tag", "n_live", "num_mcmc_steps",
                    "num_delete", "chunk_size", "termination", "checkpoint_interval",
                    "iterations_per_quick_update", "iterations_per_full_update",
                    "number_of_cores", "seed", "silence", "session")
SETTINGS = dict(n_live=200, num_delete=20, seed=0)


@pytest.fixture(scope="module")
def output(tmp_path_factory):
    folder = tmp_path_factory.mktemp("autofit")
    previous = conf.instance.output_path
    conf.instance.output_path = str(folder)  # keep PyAutoFit's output out of the repository
    yield folder
    conf.instance.output_path = previous


def fit(search, model, data):
    return search, search.fit(model=model, analysis=example.Analysis(*data))


@pytest.fixture(scope="module")
def fitted(output):
    return fit(NSS(name="test_fit", **SETTINGS), example.make_model(), example.simulate())


@pytest.fixture(scope="module")
def shared(output):
    """The two-profile model with one shared width, fitted by slicens and af.Nautilus."""
    model, data = example.make_shared_model(), example.simulate_shared()
    _, ours = fit(NSS(name="shared", **SETTINGS), model, data)
    _, theirs = fit(af.Nautilus(name="shared_nautilus", n_live=300, n_eff=1000, seed=1,
                                number_of_cores=1), model, data)
    return model, ours, theirs


def test_recovers_the_truth_within_errors(fitted):
    _, result = fitted
    samples = result.samples
    lower, upper = samples.values_at_lower_sigma(3.0), samples.values_at_upper_sigma(3.0)
    for name, truth in example.TRUTH.items():
        assert getattr(lower, name) < truth < getattr(upper, name), name


def test_one_dimension_per_free_prior():
    model = example.make_shared_model()
    assert len(model.paths) == 6 and model.prior_count == 5
    prior = unit_cube_prior(model)
    assert len(prior) == model.prior_count
    names = [p.name for p in prior]
    assert len(set(names)) == 5 and "g0.centre" in names and "g1.centre" in names


@pytest.mark.slow  # a peer run (Nautilus, ~60 s on 2 cores): make test-slow
def test_shared_prior_model_agrees_with_nautilus(shared):
    model, ours, theirs = shared
    info = ours.samples.samples_info
    assert ours.search_internal.positions.shape[1] == model.prior_count
    assert info["num_mcmc_steps"] == slicens.default_num_inner_steps(model.prior_count)
    # Nautilus reports no evidence error; its importance-sampling error is about
    # 1 / sqrt(n_eff). Tolerance: 3 sigma of the two errors together.
    n_eff = theirs.search_internal.n_eff
    sigma = np.hypot(info["log_evidence_error"], 1 / np.sqrt(n_eff))
    assert abs(ours.samples.log_evidence - theirs.samples.log_evidence) < 3 * sigma
    # posterior medians within 4 combined standard errors of a median, parameter by
    # parameter: 1.2533 sd / sqrt(ESS) each (sd: the 1-sigma half-width; ESS: slicens's
    # Kish ESS, Nautilus's n_eff)
    for ours_value, their_value, ours_err, their_err in zip(
            ours.samples.median_pdf(as_instance=False),
            theirs.samples.median_pdf(as_instance=False),
            ours.samples.errors_at_sigma(1.0, as_instance=False),
            theirs.samples.errors_at_sigma(1.0, as_instance=False), strict=True):
        standard_error = 1.2533 * np.hypot(np.mean(ours_err) / np.sqrt(info["ess"]),
                                           np.mean(their_err) / np.sqrt(n_eff))
        assert abs(ours_value - their_value) < 4 * standard_error, (
            ours_value, their_value, standard_error)


@pytest.mark.skipif(importlib.util.find_spec("autolens") is None,
                    reason="autolens not installed (it needs Python >= 3.12)")
def test_pyautolens_mge_model_has_prior_count_dimensions():
    import autolens as al

    source = al.model_util.mge_model_from(mask_radius=3.0, total_gaussians=20,
                                          centre_prior_is_uniform=True)
    lens = af.Model(al.Galaxy, redshift=0.5, mass=al.mp.Isothermal, shear=al.mp.ExternalShear)
    model = af.Collection(galaxies=af.Collection(lens=lens, source=af.Model(
        al.Galaxy, redshift=1.0, bulge=source)))
    assert len(model.paths) > model.prior_count
    assert len(unit_cube_prior(model)) == model.prior_count


def _quadrature_reference(points_per_axis: int = 81):
    """logZ and marginal posterior medians and sds of the 1-d Gaussian fit
    (``example.make_model``, ``example.simulate``) by trapezoid quadrature.

    In (centre, ln normalization, sigma) the prior density is the constant
    ``1 / (100 ln(1e4) 30)``; the posterior is narrow, so the integral runs over +/- 8
    marginal standard deviations (from the Hessian at the maximum) around the maximum,
    where the trapezoid rule is exact to far below the sampler's error."""
    from scipy.optimize import minimize

    data, noise = example.simulate()
    x = np.arange(data.size, dtype=np.float64)

    def loglike(centre, log_norm, sigma):  # broadcasting over the grid's axes
        model = (np.exp(log_norm) / (sigma * np.sqrt(2 * np.pi)))[..., None] * np.exp(
            -0.5 * ((x - centre[..., None]) / sigma[..., None]) ** 2)
        chi2 = np.sum(((data - model) / noise) ** 2, axis=-1)
        return -0.5 * (chi2 + np.sum(np.log(2 * np.pi * noise**2)))

    start = np.array([example.TRUTH["centre"], np.log(example.TRUTH["normalization"]),
                      example.TRUTH["sigma"]])
    best = minimize(lambda t: -loglike(*[np.asarray(v) for v in t]), start, method="BFGS").x
    step = 1e-4 * np.maximum(np.abs(best), 1.0)

    def at(i, j, di, dj):  # the log-likelihood at best + di step_i + dj step_j
        t = best.copy()
        t[i] += di * step[i]
        t[j] += dj * step[j]
        return loglike(*[np.asarray(v) for v in t])

    hessian = np.array([[-(at(i, j, 1, 1) - at(i, j, 1, -1) - at(i, j, -1, 1)
                           + at(i, j, -1, -1)) / (4 * step[i] * step[j]) for j in range(3)]
                        for i in range(3)])
    sd = np.sqrt(np.diag(np.linalg.inv(hessian)))
    axes = [np.linspace(b - 8 * s, b + 8 * s, points_per_axis)
            for b, s in zip(best, sd, strict=True)]
    grid = np.meshgrid(*axes, indexing="ij")
    log_l = loglike(*grid)
    peak = log_l.max()
    density = np.exp(log_l - peak)
    mass = np.trapezoid(np.trapezoid(np.trapezoid(density, axes[2]), axes[1]), axes[0])
    logZ = peak + np.log(mass) - np.log(100.0 * np.log(1e4) * 30.0)
    medians, sds = [], []
    for k, axis in enumerate(axes):
        others = tuple(a for a in range(3) if a != k)
        marginal = density.sum(axis=others)
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (marginal[1:] + marginal[:-1])
                                               * np.diff(axis))])
        medians.append(np.interp(0.5, cdf / cdf[-1], axis))
        mean = np.sum(marginal * axis) / marginal.sum()
        sds.append(np.sqrt(np.sum(marginal * (axis - mean) ** 2) / marginal.sum()))
    medians[1] = np.exp(medians[1])  # a median is kept by the monotone map to normalization
    sds[1] = sds[1] * medians[1]  # to first order
    return logZ, np.array(medians), np.array(sds)


def test_evidence_and_medians_match_quadrature(fitted):
    """The PyAutoFit path's logZ within 3 of its errors of the quadrature evidence, and
    each median within 4 standard errors of a median from the run's ESS
    (``1.2533 sd / sqrt(ESS)``)."""
    _, result = fitted
    samples = result.samples
    logZ, medians, sds = _quadrature_reference()
    info = samples.samples_info
    assert abs(samples.log_evidence - logZ) < 3 * info["log_evidence_error"], (
        samples.log_evidence, info["log_evidence_error"], logZ)
    ours = samples.median_pdf(as_instance=False)
    standard_error = 1.2533 * sds / np.sqrt(info["ess"])
    np.testing.assert_array_less(np.abs(np.asarray(ours) - medians), 4 * standard_error)


def test_reports_evidence_and_writes_outputs(fitted, output):
    search, result = fitted
    samples = result.samples
    info = samples.samples_info
    assert samples.log_evidence == info["log_evidence"]
    assert 0 < info["log_evidence_error"] < 1
    assert info["total_samples"] > info["number_live_points"]
    _assert_outputs_agree(Path(search.paths.output_path),
                          slicens.load(Path(search.paths.output_path) / "slicens" / "result.npz"))
    outputs = list((output / "test_fit").iterdir())
    assert any(p.suffix == ".zip" or (p / "model.results").exists() for p in outputs)


def test_samples_info_as_af_nss_writes_it(fitted):
    search, result = fitted
    stored = json.loads((Path(search.paths.output_path) / "files" / "samples_info.json")
                        .read_text())
    for key in ("time", "sampling_time", "log_evidence", "log_evidence_error"):
        assert isinstance(stored[key], float) and stored[key] > -np.inf, key
    for key in ("total_samples", "number_live_points", "num_delete", "num_mcmc_steps"):
        assert isinstance(stored[key], int), key
    assert stored["ess"] > 100 and stored["num_delete"] == 20
    assert stored["stopped_by"] == "dlogz" and stored["converged"] is True
    assert 0 <= stored["insertion_test_pvalue"] <= 1


def test_slicens_result_survives_pyautofit_cleanup(fitted):
    search, result = fitted
    saved = slicens.load(Path(search.paths.output_path) / "slicens" / "result.npz")
    assert saved.logZ == result.samples.log_evidence
    assert saved.start_correlation_test and saved.insertion_test
    assert (Path(search.paths.output_path) / "slicens" / "checkpoint.ckpt").exists()


@pytest.mark.slow  # two more fits; resuming slicens.run itself is tested in test_checkpoint
def test_run_stopped_by_a_budget_is_not_completed_and_continues(fitted, caplog):
    _, complete = fitted
    search, partial = fit(NSS(name="budget", max_evals=3000, **SETTINGS),
                          example.make_model(), example.simulate())
    assert partial.samples.samples_info["stopped_by"] == "max_evals"
    assert not search.paths.is_complete
    with caplog.at_level(logging.INFO, logger="slicens"):
        search, resumed = fit(NSS(name="budget", **SETTINGS), example.make_model(),
                              example.simulate())
    assert "resuming from" in caplog.text
    assert search.paths.is_complete
    # same seed and settings: the continued run is the uninterrupted one
    assert resumed.samples.log_evidence == complete.samples.log_evidence


def test_accepts_every_af_nss_argument(caplog):
    if not LEGACY_AUTOFIT and hasattr(af, "NSS"):
        theirs = set(inspect.signature(af.NSS.__init__).parameters) - {"self", "kwargs"}
        assert theirs <= set(AF_NSS_ARGUMENTS)
    ours = set(inspect.signature(NSS.__init__).parameters)
    assert set(AF_NSS_ARGUMENTS) <= ours
    with caplog.at_level(logging.WARNING):
        search = NSS(number_of_cores=2, iterations_per_quick_update=5,
                     iterations_per_full_update=7, checkpoint_interval=100, chunk_size=4,
                     termination=-2.0, n_live=100, num_mcmc_steps=6, num_delete=10, seed=3)
    assert "number_of_cores=2" in caplog.text
    assert "iterations_per_quick_update=5" in caplog.text
    assert "iterations_per_full_update=7" in caplog.text
    assert (search.n_live, search.num_mcmc_steps, search.num_delete, search.seed) == (
        100, 6, 10, 3)


def test_import_raises_no_future_warning():
    code = ("import os, warnings; os.environ['PYAUTO_SKIP_WORKSPACE_VERSION_CHECK'] = '1'; "
            "import autofit; warnings.simplefilter('error', FutureWarning); "
            "import slicens.autofit")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]


def test_declares_its_capabilities(fitted):
    search, _ = fitted
    if LEGACY_AUTOFIT:  # autofit 2026.7 has no capability declarations to make
        assert not importlib.util.find_spec("autofit.non_linear.search.capabilities")
        return
    from autofit.non_linear.search.capabilities import capability_summary_from

    summary = capability_summary_from(search)
    assert "JAX use = required" in summary and "batched = True" in summary
    assert "produces evidence = True, resumable = True" in summary
    assert "Posterior kind = weighted" in summary
    written = (Path(search.paths.output_path) / "search.summary").read_text()
    assert "JAX use = required" in written


def test_needs_a_jax_analysis():
    data, noise_map = example.simulate()

    class NumpyAnalysis(example.Analysis):
        def __init__(self, data, noise_map):
            af.Analysis.__init__(self, use_jax=False)
            self.data, self.noise_map = data, noise_map

    search = NSS(n_live=20)
    with pytest.raises(Exception, match="use_jax=True"):
        search.fit(example.make_model(), NumpyAnalysis(data, noise_map))


def test_backend_must_be_slicens():
    with pytest.raises(ValueError, match="backend='blackjax'"):
        NSS(backend="blackjax")


@pytest.fixture(scope="module")
def bounded_fitted(output):
    """The 1-d Gaussian fitted with ``method="bounds"`` (importance weights; ellipsoids
    only, the networks' training being tested elsewhere and most of a refined run's time)."""
    return fit(NSS(name="test_bounds", method="bounds", n_live=100, min_ess=500, seed=0,
                   refine=False),
               example.make_model(), example.simulate())


def test_a_bounded_fit_reports_the_importance_weighted_evidence(bounded_fitted):
    """log_evidence and the medians against quadrature, as for the nested-sampling fit;
    samples_info names the estimator and the phases and holds both estimates; PyAutoFit's
    samples are the weighed points with their weights and likelihoods; the saved result
    agrees."""
    search, result = bounded_fitted
    samples, info = result.samples, result.samples.samples_info
    logZ, medians, sds = _quadrature_reference()
    assert abs(samples.log_evidence - logZ) < 3 * info["log_evidence_error"]
    standard_error = 1.2533 * sds / np.sqrt(info["ess"])
    np.testing.assert_array_less(
        np.abs(np.asarray(samples.median_pdf(as_instance=False)) - medians),
        4 * standard_error)
    assert info["method"] == "bounds" and info["stopped_by"] == "min_ess" and info["converged"]
    assert info["estimator"].startswith("importance weights of the sampling phase's")
    assert info["exploration_evals"] + info["sampling_evals"] == info["total_samples"]
    saved = slicens.load(Path(search.paths.output_path) / "slicens" / "result.npz")
    assert isinstance(saved, slicens.BoundedResult) and saved.logZ == samples.log_evidence
    assert saved.settings["refine"] is False  # the search's setting reached the run
    kept = np.isfinite(saved.log_weights)
    assert len(samples.sample_list) == kept.sum() == info["total_accepted_samples"]
    np.testing.assert_allclose([s.weight for s in samples.sample_list], saved.weights[kept])
    np.testing.assert_allclose([s.log_likelihood for s in samples.sample_list],
                               saved.loglike[kept])
    stored = json.loads((Path(search.paths.output_path) / "files" / "samples_info.json")
                        .read_text())
    assert stored["log_evidence"] == saved.logZ and stored["method"] == "bounds"
    assert stored["nested_log_evidence"] == saved.logZ_nested  # the estimate beside
    assert stored["nested_log_evidence_error"] == saved.logZ_nested_err
    _assert_outputs_agree(Path(search.paths.output_path), saved)


def _assert_outputs_agree(folder: Path, saved) -> None:
    """PyAutoFit's model.results and samples.csv say what the slicens result says: its
    evidence, its maximum likelihood, its weighed points' likelihoods and weights."""
    import csv
    import re

    kept = np.isfinite(saved.log_weights)
    text = (folder / "model.results").read_text()
    evidence = float(re.search(r"Bayesian Evidence\s+(\S+)", text).group(1))
    best = float(re.search(r"Maximum Log Likelihood\s+(\S+)", text).group(1))
    assert evidence == pytest.approx(saved.logZ, abs=1e-7)
    assert best == pytest.approx(saved.loglike[kept].max(), abs=1e-7)
    with open(folder / "files" / "samples.csv") as file:
        rows = [{key.strip(): value for key, value in row.items()}  # padded columns
                for row in csv.DictReader(file)]
    weight_of = dict(zip(np.round(saved.loglike[kept], 6), saved.weights[kept], strict=True))
    # PyAutoFit may leave out the points below its weight threshold
    for row in (r for r in rows if float(r["weight"]) > 0):
        assert float(row["weight"]) == pytest.approx(
            weight_of[round(float(row["log_likelihood"]), 6)], rel=1e-6)
    assert sum(float(row["weight"]) for row in rows) > 0.99


def test_method_bounds_is_in_the_identifier_and_refuses_nested_sampling_settings():
    assert "method" in NSS(name="x", method="bounds").__identifier_fields__
    assert "method" not in NSS(name="x").__identifier_fields__  # slice fits keep theirs
    for name, value in (("num_delete", 10), ("num_mcmc_steps", 5), ("termination", -1.0)):
        with pytest.raises(ValueError, match=f"{name} is a setting of nested sampling"):
            NSS(name="x", method="bounds", **{name: value})
    with pytest.raises(ValueError, match="method must be one of"):
        NSS(name="x", method="nested")


def test_the_bounded_settings_reach_the_run_and_the_identifier_and_slice_refuses_them():
    """``f_live``, ``n_batch``, ``refine``, ``exploration`` go to a bounded run (and the
    identifier, where set); ``method="slice"`` refuses them by name; ``"auto"`` is chosen
    before the run's settings are built, so a bounded choice gets no nested-sampling
    ones."""
    for takes in (NSS.__init__, slicens.run):  # a setting named once (search_method) reaches both
        assert set(BOUNDED_SETTINGS) <= set(inspect.signature(takes).parameters)
    search = NSS(name="x", method="bounds", refine=False, n_batch=10)
    assert {"refine", "n_batch"} <= set(search.__identifier_fields__)
    assert "f_live" not in search.__identifier_fields__
    prior = unit_cube_prior(example.make_model())
    assert search._run_settings(prior) == ("bounds", None, dict(n_batch=10, refine=False))
    for name, value in (("f_live", 0.1), ("n_batch", 10), ("refine", False),
                        ("exploration", "reuse")):
        with pytest.raises(ValueError, match=f"{name} is a setting of method='bounds'"):
            NSS(name="x", **{name: value})
    method, reason, settings = NSS(name="x", method="auto", f_live=0.05)._run_settings(prior)
    assert method == "bounds" and reason.startswith("bounds: dim=3")
    assert settings == dict(f_live=0.05)
    reuse = NSS(name="x", method="bounds", exploration="reuse")
    assert "exploration" in reuse.__identifier_fields__
    assert reuse._run_settings(prior)[2] == dict(exploration="reuse")
    with pytest.raises(ValueError, match="termination is a setting of nested sampling"):
        NSS(name="x", method="auto", termination=-1.0)._run_settings(prior)


@pytest.mark.skipif(LEGACY_AUTOFIT, reason="autofit 2026.7 has no test-mode budget hook "
                    "(make test-py312 runs this on autofit 2026.10)")
def test_pyautofit_test_mode_shortens_a_bounded_fit_by_min_ess(monkeypatch):
    """``PYAUTO_TEST_MODE=1`` applies the class's budget to a slice fit; a bounded fit,
    which stops at ``min_ess`` and refuses ``termination``, gets ``n_live`` 50 and
    ``min_ess`` 200 instead."""
    from slicens.autofit import TEST_MODE_MIN_ESS

    monkeypatch.setenv("PYAUTO_TEST_MODE", "1")
    sliced = NSS(name="x")
    assert (sliced.n_live, sliced.termination) == (50, -1.0)
    bounded = NSS(name="x", method="bounds", min_ess=5000)
    assert (bounded.n_live, bounded.termination, bounded.min_ess) == (50, -3.0,
                                                                        TEST_MODE_MIN_ESS)
