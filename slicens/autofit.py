"""A PyAutoFit backend: ``slicens.autofit.NSS``, a ``NonLinearSearch`` that runs slicens.

    import autofit as af
    from slicens.autofit import NSS

    search = NSS(name="gaussian_fit", n_live=200, num_delete=20, chunk_size="auto")
    result = search.fit(model=model, analysis=analysis)   # analysis: af.Analysis(use_jax=True)
    result.samples.log_evidence

The constructor accepts every argument af.NSS accepts (``n_live``, ``num_mcmc_steps``,
``num_delete``, ``chunk_size``, ``termination`` with af.NSS's meaning,
``checkpoint_interval``, ``seed``, ``number_of_cores``, the update cadences, ``silence``,
``session``, ``initializer``) plus slicens's own (``memory_budget``, ``max_evals``,
``max_time``, ``min_ess``, ``progress``, ``method``; ``f_live``, ``n_batch``, ``refine``,
``exploration`` for ``method="bounds"``) and ``backend="slicens"``. Where the
defaults differ from af.NSS's, see the class docstring. ``method="bounds"`` draws from
bounds with importance weights (:func:`slicens.run`): the samples then carry every
weighed point's importance weight and likelihood, ``log_evidence`` is the
importance-weighted logZ, and ``samples_info`` says which estimator and the phases'
evaluations.

slicens samples the unit hypercube, one dimension per free prior of the model
(``model.prior_count``; priors shared between components count once); the model's
priors map it to physical parameters inside the JAX likelihood
(``model.vector_from_unit_vector(u, xp=jax.numpy)``), so the analysis must be a JAX
analysis (``use_jax=True``).

Outputs: PyAutoFit writes its usual files (samples, summary, model.results). slicens's
own result (``slicens.load``-able, with its mixing tests) and its checkpoint live in the
fit's output folder under ``slicens/`` (``result.npz``, ``checkpoint.ckpt``), beside
``files/``, so PyAutoFit's removal of ``search_internal`` at the end of a fit does not take
them. Only a converged run (stopped by ``termination``, a plateau or ``min_ess``) is
marked completed; one stopped by ``max_time`` or ``max_evals`` continues from its
checkpoint when the script runs again.

On autofit >= 2026.10 the search is a plain ``NonLinearSearch`` on PyAutoFit's
``run(ctx)`` hook with its capability declarations; on the autofit release that
supports Python 3.11 (2026.7.29.1, which has neither) it subclasses ``AbstractNest``.

PyAutoFit is an optional dependency: ``pip install "slicens[autofit]"``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

try:
    from autofit.non_linear.paths.null import NullPaths
    from autofit.non_linear.samples.nest import SamplesNest
except ImportError as exc:  # pragma: no cover - exercised only without autofit
    raise ImportError(
        "slicens.autofit needs PyAutoFit; install it with pip install 'slicens[autofit]'"
    ) from exc

try:  # autofit >= 2026.10: search capabilities and the run(ctx) hook
    from autofit.non_linear.samples.adapter import RawSamples
    from autofit.non_linear.search import capabilities as cap
    from autofit.non_linear.search.abstract_search import NonLinearSearch as _Base
    from autofit.non_linear.search.posterior_kind import WEIGHTED

    LEGACY_AUTOFIT = False
except ImportError:  # autofit 2026.7 (Python 3.11): the nested-sampler family base
    from autofit.non_linear.search.nest.abstract_nest import AbstractNest as _Base

    LEGACY_AUTOFIT = True

import slicens
from slicens.core.blocks import CONVERGED
from slicens.host import search_method
from slicens.host.samples_info import samples_info
from slicens.host.search_method import DEFAULT_TERMINATION, check_method, run_settings, settings_of
from slicens.host.settings import DEFAULT_CHECKPOINT_EVERY, DEFAULT_N_LIVE
from slicens.priors import Uniform

__all__ = ["NSS"]

logger = logging.getLogger("slicens")

_FOLDER = "slicens"
_RESULT_FILE = "result.npz"
_CHECKPOINT_FILE = "checkpoint.ckpt"
#: The most ``min_ess`` of a fit that may draw from bounds under PyAutoFit's test mode.
TEST_MODE_MIN_ESS = 200


class NSS(_Base):
    """Nested slice sampling with slicens, as a PyAutoFit search.

    Parameters
    ----------
    name, path_prefix, unique_tag, session
        PyAutoFit's output location and database session.
    n_live
        Live points. Default 500 (af.NSS: 200).
    num_mcmc_steps
        Slice steps per replacement chain (slicens's ``num_inner_steps``). Default
        ``"auto"``: ellipsoid jumps, then up to ``max(5, 3 * dim)`` slice steps, fewer as
        jumps succeed (af.NSS: 5, which biases logZ upward beyond a few dimensions).
    num_delete
        Points replaced per iteration. Default ``n_live // 10`` (af.NSS: 50).
    chunk_size
        At most this many likelihood evaluations at once; ``"auto"`` (default; af.NSS:
        None) fits the device's memory (see :func:`slicens.run`); ``memory_budget`` sets
        the budget.
    termination
        As in af.NSS: stop when ``log(Z_live / Z) < termination``, i.e. slicens's
        ``dlogz = log(1 + exp(termination))``. Default -3.0 (dlogz = 0.049), af.NSS's.
    max_evals, max_time, min_ess
        Further stopping rules (see :func:`slicens.run`). A run stopped by ``max_evals``
        or ``max_time`` is not marked completed: running the script again continues it.
    checkpoint_interval
        Seconds between checkpoint writes. Default 60 (af.NSS: outer iterations, 100;
        slicens runs many iterations per device dispatch, so it counts time).
    seed
        Seed of the run. Default 0 (af.NSS: 42).
    backend
        Must be ``"slicens"`` (af.NSS's blackjax backend is af.NSS itself).
    progress
        slicens's progress display (``"auto"``; ``silence=True`` turns it off).
    method
        ``"slice"`` (default): nested slice sampling. ``"bounds"``: draws from bounds with
        importance weights, until ``min_ess`` (default 10,000); it takes no
        ``num_mcmc_steps``, ``num_delete`` or ``termination`` (refused by name). ``"auto"``:
        chosen per run (:func:`slicens.run`). A method other than ``"slice"`` is part of
        the fit's identifier (its own output folder).
    f_live, n_batch, refine, exploration
        Settings of ``method="bounds"`` (:func:`slicens.run`; None: its defaults 0.01,
        ``n_live // 4``, True, ``"discard"``); refused with ``method="slice"``. Each one set
        joins the fit's identifier.
    number_of_cores
        Accepted for af.NSS's signature; slicens runs on JAX's device, so a value above 1
        is ignored with a warning (as af.NSS does).
    iterations_per_quick_update, iterations_per_full_update
        Accepted for af.NSS's signature; slicens does not visualise during a run, so a
        value other than None is ignored with a warning.
    """

    # Static capabilities (autofit >= 2026.10 reads them for model.info, search.summary
    # and its runtime gates; older autofit ignores them). Never identifier fields.
    if not LEGACY_AUTOFIT:
        jax_use = cap.JaxUse.REQUIRED
        gradient = cap.Gradient.NONE
        batched = True
        honours_gradient_mode = False
        posterior_kind = cap.PosteriorKind.WEIGHTED
        produces_evidence = True
        resumable = True
        warm_start = cap.WarmStart.PROVIDER
        install_extra = ""
        upstream_url = "https://github.com/slicens/slicens"
        citation_keys = ()
        status = cap.Status.EXPERIMENTAL
        test_mode_budget = {"n_live": 50, "termination": -1.0}
        # slicens proposes unit-cube points; the prior transform runs in the likelihood.
        objective_target = cap.ObjectiveTarget(cap.ObjectiveQuantity.LOG_LIKELIHOOD,
                                               cap.CoordinateSpace.UNIT_CUBE)
        # NaN and -inf are outside every contour for slicens (counted in n_invalid).
        invalid_value = -math.inf
        samples_cls = SamplesNest

    __identifier_fields__ = ("n_live", "num_mcmc_steps", "num_delete", "termination", "seed",
                             "backend")

    def __init__(
        self,
        name: str | None = None,
        path_prefix: str | None = None,
        unique_tag: str | None = None,
        n_live: int = DEFAULT_N_LIVE,
        num_mcmc_steps: int | None = None,
        num_delete: int | None = None,
        chunk_size: int | str | None = "auto",
        memory_budget: int | str | None = None,
        termination: float = DEFAULT_TERMINATION,
        max_evals: int | None = None,
        max_time: float | None = None,
        min_ess: float | None = None,
        checkpoint_interval: float = DEFAULT_CHECKPOINT_EVERY,
        seed: int = 0,
        backend: str = "slicens",
        progress: bool | str = "auto",
        iterations_per_quick_update: int | None = None,
        iterations_per_full_update: int | None = None,
        number_of_cores: int | None = 1,
        silence: bool = False,
        session=None,
        method: str = "slice",
        f_live: float | None = None,
        n_batch: int | None = None,
        refine: bool | None = None,
        exploration: str | None = None,
        **kwargs,
    ):
        if backend != "slicens":
            raise ValueError(f"slicens.autofit.NSS runs backend='slicens' only, got "
                             f"backend={backend!r}; use af.NSS for its own backend")
        given = locals()  # the bounded settings by name, as search_method lists them
        bounded = {name: given[name] for name in search_method.BOUNDED_SETTINGS}
        check_method(method, num_mcmc_steps, num_delete, termination, bounded)
        base = dict(name=name, path_prefix=path_prefix, unique_tag=unique_tag,
                    iterations_per_quick_update=iterations_per_quick_update,
                    iterations_per_full_update=iterations_per_full_update,
                    number_of_cores=1, silence=silence, session=session)
        if not LEGACY_AUTOFIT:
            base.update(seed=seed, initializer=WEIGHTED.nested_initializer_for(
                kwargs.pop("initializer", None)))
        super().__init__(**base, **kwargs)
        self.n_live, self.num_mcmc_steps, self.num_delete = n_live, num_mcmc_steps, num_delete
        self.chunk_size, self.memory_budget = chunk_size, memory_budget
        self.termination, self.max_evals, self.max_time, self.min_ess = (
            termination, max_evals, max_time, min_ess)
        self.checkpoint_interval, self.seed, self.backend = checkpoint_interval, seed, backend
        self.progress = False if silence else progress
        self.method = method
        for name, value in bounded.items():  # f_live, ...: identifier fields where set
            setattr(self, name, value)
        if method != "slice":  # slice fits keep the identifiers they had before `method`
            self.__identifier_fields__ = type(self).__identifier_fields__ + ("method",) + tuple(
                name for name, value in bounded.items() if value is not None)
        _warn_ignored(number_of_cores, iterations_per_quick_update, iterations_per_full_update)

    # --- running ---------------------------------------------------------------------

    if not LEGACY_AUTOFIT:

        def apply_test_mode(self):
            """PyAutoFit's test mode (``PYAUTO_TEST_MODE=1``): ``test_mode_budget`` for
            nested sampling; a fit that may draw from bounds, which stops at ``min_ess``
            rather than ``termination``, keeps its ``termination`` (a bounded run refuses
            another) and stops at ``min_ess`` :data:`TEST_MODE_MIN_ESS` at most."""
            if self.method == "slice":
                return super().apply_test_mode()
            self.n_live = self.test_mode_budget["n_live"]
            self.min_ess = min(self.min_ess or TEST_MODE_MIN_ESS, TEST_MODE_MIN_ESS)

    def fitness_overrides(self, analysis) -> dict:
        """No quick updates through ``Fitness``: slicens evaluates the objective inside its
        compiled program, where a host-side visualisation cannot run."""
        return {"iterations_per_quick_update": None, "background_quick_update": False,
                "live_visual_update": False}

    def run(self, ctx):
        """The backend loop on PyAutoFit's ``run(ctx)`` hook (autofit >= 2026.10)."""
        from autofit.non_linear.objective import SCALAR

        return self._sample(ctx.model, ctx.fitness.objective(SCALAR, compile=False))

    if LEGACY_AUTOFIT:

        def _fit(self, model, analysis):
            """The backend on autofit 2026.7, which has no ``run(ctx)`` hook."""
            if not getattr(analysis, "_use_jax", False):
                raise ValueError(
                    "slicens.autofit.NSS needs a JAX likelihood: construct the analysis "
                    "with use_jax=True (af.Analysis(use_jax=True)) and write "
                    "log_likelihood_function with self._xp")
            from autofit.non_linear.fitness import Fitness

            fitness = Fitness(model=model, analysis=analysis, paths=self.paths,
                              fom_is_log_likelihood=True, resample_figure_of_merit=-np.inf)
            return self._sample(model, fitness.call), fitness

    def _sample(self, model, physical_loglike) -> slicens.Result:
        """Run slicens on the unit cube of the model's free priors; save the result."""
        import jax.numpy as jnp

        def loglike(unit):
            return physical_loglike(model.vector_from_unit_vector(unit, xp=jnp))

        folder = self._slicens_folder()
        prior = unit_cube_prior(model)
        method, reason, settings = self._run_settings(prior)
        result = slicens.run(
            loglike, prior, n_live=self.n_live, method=method,
            chunk_size=self.chunk_size, memory_budget=self.memory_budget, seed=self.seed,
            max_evals=self.max_evals, max_time=self.max_time, min_ess=self.min_ess, **settings,
            checkpoint=None if folder is None else folder / _CHECKPOINT_FILE,
            resume=True, checkpoint_every=self.checkpoint_interval,
            likelihood_id=f"autofit:{getattr(self.paths, 'identifier', 'none')}",
            progress=self.progress,
        )
        if reason is not None:
            result.settings["chosen"]["method"] = reason
        self.logger.info("slicens: logZ = %.3f +/- %.3f, %d evaluations, stopped by %s",
                         result.logZ, result.logZ_err, result.n_evals, result.termination)
        if folder is not None:
            path = result.save(folder / _RESULT_FILE, overwrite=True)
            self.logger.info("slicens result saved to %s (slicens.load)", path)
        if result.termination not in CONVERGED:
            self.logger.warning(
                "slicens stopped by %s before converging: the fit is not marked completed, "
                "and running it again continues from %s", result.termination,
                None if folder is None else folder / _CHECKPOINT_FILE)
            self._hold_completion()
        return result

    def _run_settings(self, prior) -> tuple[str, str | None, dict]:
        """:func:`slicens.host.search_method.run_settings` of this search."""
        method, reason, settings = run_settings(
            self.method, prior, self.num_mcmc_steps, self.num_delete, self.termination,
            settings_of(self))
        if reason is not None:
            self.logger.info("slicens chose method=%r (method='auto'): %s", method, reason)
        return method, reason, settings

    def _slicens_folder(self, create: bool = True) -> Path | None:
        """``<output>/slicens``: outside ``search_internal``, which PyAutoFit may remove."""
        if isinstance(self.paths, NullPaths) or not hasattr(self.paths, "output_path"):
            return None
        folder = Path(self.paths.output_path) / _FOLDER
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        return folder

    # --- completion: only a converged run is complete ----------------------------------

    def fit(self, model, analysis, info=None):
        try:
            return super().fit(model=model, analysis=analysis, info=info)
        finally:
            self.paths.__dict__.pop("completed", None)  # undo _hold_completion, if any

    def _hold_completion(self) -> None:
        """Make this fit's ``paths.completed()`` (PyAutoFit's ``.completed`` marker) a
        no-op, so that the next ``fit`` resumes. Both autofit versions write the marker
        from inside their own fit sequence, after ``_fit``/``run`` returns; shadowing
        the method on this fit's paths object (undone when ``fit`` returns) is the one
        hook they share."""
        self.paths.completed = lambda: self.logger.info(
            "not marking the fit completed: slicens did not converge")

    # --- PyAutoFit's outputs ---------------------------------------------------------

    def load_search_internal(self):
        """The slicens result saved in the output folder (``slicens/result.npz``)."""
        folder = self._slicens_folder(create=False)
        if folder is None or not (folder / _RESULT_FILE).exists():
            raise FileNotFoundError(f"no slicens result saved for this search "
                                    f"(looked for {_FOLDER}/{_RESULT_FILE})")
        return slicens.load(folder / _RESULT_FILE)

    def output_search_internal(self, search_internal):
        """Nothing beyond ``slicens/result.npz``, written when the run ends."""

    def samples_info_from(self, search_internal=None) -> dict:
        """af.NSS's ``samples_info`` entries (numbers as numbers), plus slicens's own
        (:func:`slicens.host.samples_info.samples_info`)."""
        result = search_internal if search_internal is not None else self.load_search_internal()
        return samples_info(result, self.termination)

    def info_from(self, internal) -> dict:
        return self.samples_info_from(internal)

    def _physical_samples(self, model, result):
        """Parameters, log-likelihoods and weights of the points the estimate weighs (a
        bounded run's discarded exploration, of weight 0, is left out)."""
        kept = (np.isfinite(result.log_weights) if isinstance(result, slicens.BoundedResult)
                else slice(None))  # a nested-sampling run: every dead point
        parameters = [model.vector_from_unit_vector(unit)
                      for unit in result.positions[kept].tolist()]
        return parameters, result.loglike[kept].tolist(), result.weights[kept].tolist()

    if not LEGACY_AUTOFIT:

        def raw_samples_from(self, model, search_internal):
            """autofit >= 2026.10: the samples as ``RawSamples`` (physical parameters)."""
            parameters, loglike, weights = self._physical_samples(model, search_internal)
            return RawSamples(parameters=np.asarray(parameters),
                              log_likelihood=np.asarray(loglike), weights=np.asarray(weights),
                              info=self.samples_info_from(search_internal), label="slicens")

    else:

        def samples_via_internal_from(self, model, search_internal=None):
            """autofit 2026.7: PyAutoFit samples (physical parameters, weights)."""
            from autofit.non_linear.samples.sample import Sample

            if search_internal is None:
                search_internal = self.load_search_internal()
            parameters, loglike, weights = self._physical_samples(model, search_internal)
            log_prior_list = [sum(model.log_prior_list_from_vector(vector=vector))
                              for vector in parameters]
            sample_list = Sample.from_lists(model=model, parameter_lists=parameters,
                                            log_likelihood_list=loglike,
                                            log_prior_list=log_prior_list,
                                            weight_list=weights)
            return SamplesNest(model=model, sample_list=sample_list,
                               samples_info=self.samples_info_from(search_internal))


def unit_cube_prior(model) -> list[Uniform]:
    """One ``Uniform(0, 1)`` per free prior of ``model`` (``model.prior_count``: a prior
    shared between components is one dimension), named as PyAutoFit names them."""
    names = list(model.model_component_and_parameter_names)
    if len(names) != model.prior_count or len(set(names)) != len(names):
        names = [f"x{i}" for i in range(model.prior_count)]
    try:
        labels = list(model.parameter_labels_with_superscripts_latex)
    except (AttributeError, KeyError, TypeError):  # cosmetic: a model without labels gets names
        labels = names
    if len(labels) != len(names):
        labels = names
    return [Uniform(0.0, 1.0, name=name, label=label)
            for name, label in zip(names, labels, strict=True)]


def _warn_ignored(number_of_cores, quick, full) -> None:
    if number_of_cores is not None and number_of_cores > 1:
        logger.warning("slicens.autofit.NSS received number_of_cores=%d: slicens runs on "
                       "JAX's device, so the value is ignored (as af.NSS does). Set "
                       "number_of_cores=1 to silence this warning.", number_of_cores)
    for name, value in (("iterations_per_quick_update", quick),
                        ("iterations_per_full_update", full)):
        if value is not None:
            logger.warning("slicens.autofit.NSS received %s=%s: slicens does not visualise "
                           "during a run, so the value is ignored.", name, value)
