"""A PyAutoFit backend: ``slicens.autofit.NSS``, a ``NonLinearSearch`` that runs slicens.

    import autofit as af
    from slicens.autofit import NSS

    search = NSS(name="gaussian_fit", n_live=200, num_delete=20, chunk_size="auto")
    result = search.fit(model=model, analysis=analysis)   # analysis: af.Analysis(use_jax=True)
    result.samples.log_evidence

The constructor takes af.NSS's arguments (``n_live``, ``num_mcmc_steps``, ``num_delete``,
``chunk_size``, ``termination`` with af.NSS's meaning, ``checkpoint_interval``, ``seed``)
plus ``backend="slicens"``; the defaults of ``n_live``, ``num_mcmc_steps`` and
``num_delete`` are slicens's (500, ``max(5, 3 dim)``, ``n_live // 10``), not af.NSS's
(200, 5, 50): five slice steps bias logZ upward beyond a few dimensions.
``checkpoint_interval`` is in seconds (af.NSS: outer iterations).

slicens samples the unit hypercube; the model's priors map it to physical parameters
inside the JAX likelihood (``model.vector_from_unit_vector(u, xp=jax.numpy)``), so the
analysis must be a JAX analysis (``use_jax=True``). PyAutoFit writes its usual outputs
(samples, summary, model.results); the slicens result and its checkpoint live in the
search's ``search_internal`` folder, so a pre-empted fit resumes exactly where it
stopped.

PyAutoFit is an optional dependency: ``pip install "slicens[autofit]"``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

try:
    from autofit.non_linear.fitness import Fitness
    from autofit.non_linear.paths.null import NullPaths
    from autofit.non_linear.samples.nest import SamplesNest
    from autofit.non_linear.samples.sample import Sample
    from autofit.non_linear.search.nest.abstract_nest import AbstractNest
except ImportError as exc:  # pragma: no cover - exercised only without autofit
    raise ImportError(
        "slicens.autofit needs PyAutoFit; install it with pip install 'slicens[autofit]'"
    ) from exc

import slicens
from slicens.priors import Uniform

__all__ = ["NSS"]

logger = logging.getLogger("slicens")

_RESULT_FILE = "slicens_result.npz"
_CHECKPOINT_FILE = "slicens.ckpt"


class NSS(AbstractNest):
    """Nested slice sampling with slicens, as a PyAutoFit search.

    Parameters
    ----------
    name, path_prefix, unique_tag
        PyAutoFit's output location.
    n_live
        Live points. Default 500.
    num_mcmc_steps
        Slice steps per replacement chain (slicens's ``num_inner_steps``). Default
        ``max(5, 3 * dim)``.
    num_delete
        Points replaced per iteration. Default ``n_live // 10``.
    chunk_size
        At most this many likelihood evaluations at once; ``"auto"`` (default) fits the
        device's memory (see :func:`slicens.run`); ``memory_budget`` sets the budget.
    termination
        As in af.NSS: stop when ``log(Z_live / Z) < termination``, i.e. slicens's
        ``dlogz = log(1 + exp(termination))``. Default -3.0 (dlogz = 0.049), af.NSS's.
    max_evals, max_time, min_ess
        Further stopping rules (see :func:`slicens.run`).
    checkpoint_interval
        Seconds between checkpoint writes. Default 60.
    seed
        Seed of the run. Default 0.
    backend
        Must be ``"slicens"`` (af.NSS's blackjax backend is af.NSS itself).
    progress
        slicens's progress display (``"auto"``; ``silence=True`` turns it off).
    """

    __identifier_fields__ = ("n_live", "num_mcmc_steps", "num_delete", "termination", "seed",
                             "backend")

    def __init__(
        self,
        name: str | None = None,
        path_prefix: str | None = None,
        unique_tag: str | None = None,
        n_live: int = 500,
        num_mcmc_steps: int | None = None,
        num_delete: int | None = None,
        chunk_size: int | str | None = "auto",
        memory_budget: int | str | None = None,
        termination: float = -3.0,
        max_evals: int | None = None,
        max_time: float | None = None,
        min_ess: float | None = None,
        checkpoint_interval: float = 60.0,
        seed: int = 0,
        backend: str = "slicens",
        progress: bool | str = "auto",
        iterations_per_quick_update: int | None = None,
        iterations_per_full_update: int | None = None,
        silence: bool = False,
        session=None,
        **kwargs,
    ):
        if backend != "slicens":
            raise ValueError(f"slicens.autofit.NSS runs backend='slicens' only, got "
                             f"backend={backend!r}; use af.NSS for its own backend")
        super().__init__(
            name=name,
            path_prefix=path_prefix,
            unique_tag=unique_tag,
            iterations_per_quick_update=iterations_per_quick_update,
            iterations_per_full_update=iterations_per_full_update,
            number_of_cores=1,
            silence=silence,
            session=session,
            **kwargs,
        )
        self.n_live, self.num_mcmc_steps, self.num_delete = n_live, num_mcmc_steps, num_delete
        self.chunk_size, self.memory_budget = chunk_size, memory_budget
        self.termination, self.max_evals, self.max_time, self.min_ess = (
            termination, max_evals, max_time, min_ess)
        self.checkpoint_interval, self.seed, self.backend = checkpoint_interval, seed, backend
        self.progress = False if silence else progress

    # --- running ---------------------------------------------------------------------

    def _fit(self, model, analysis):
        if not getattr(analysis, "_use_jax", False):
            raise ValueError(
                "slicens.autofit.NSS needs a JAX likelihood: construct the analysis with "
                "use_jax=True (af.Analysis(use_jax=True)) and write log_likelihood_function "
                "with self._xp"
            )
        import jax.numpy as jnp

        fitness = Fitness(model=model, analysis=analysis, paths=self.paths,
                          fom_is_log_likelihood=True, resample_figure_of_merit=-np.inf)

        def loglike(unit):
            return fitness.call(model.vector_from_unit_vector(unit, xp=jnp))

        prior = [Uniform(0.0, 1.0, name=name) for name in _names(model)]
        folder = self._internal_folder()
        result = slicens.run(
            loglike, prior, n_live=self.n_live, num_delete=self.num_delete,
            num_inner_steps=self.num_mcmc_steps, chunk_size=self.chunk_size,
            memory_budget=self.memory_budget, seed=self.seed,
            dlogz=float(np.log1p(np.exp(self.termination))),
            max_evals=self.max_evals, max_time=self.max_time, min_ess=self.min_ess,
            checkpoint=None if folder is None else folder / _CHECKPOINT_FILE,
            resume=True, checkpoint_every=self.checkpoint_interval,
            likelihood_id=f"autofit:{getattr(self.paths, 'identifier', 'none')}",
            progress=self.progress,
        )
        self.logger.info("slicens: logZ = %.3f +/- %.3f, %d evaluations, stopped by %s",
                         result.logZ, result.logZ_err, result.n_evals, result.termination)
        return result, fitness

    def _internal_folder(self) -> Path | None:
        if isinstance(self.paths, NullPaths):
            return None
        folder = Path(self.paths.search_internal_path)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    # --- PyAutoFit's outputs ---------------------------------------------------------

    def output_search_internal(self, search_internal):
        folder = self._internal_folder()
        if folder is not None:
            search_internal.save(folder / _RESULT_FILE, overwrite=True)

    def samples_info_from(self, search_internal=None):
        return {
            "log_evidence": float(search_internal.logZ),
            "log_evidence_error": float(search_internal.logZ_err),
            "total_samples": int(search_internal.n_evals),
            "total_accepted_samples": int(search_internal.positions.shape[0]),
            "time": self.timer.time if self.timer else None,
            "number_live_points": int(search_internal.settings["n_live"]),
        }

    def samples_via_internal_from(self, model, search_internal=None):
        """PyAutoFit samples (physical parameters, weights) of a slicens result."""
        if search_internal is None:
            folder = self._internal_folder()
            if folder is None or not (folder / _RESULT_FILE).exists():
                raise FileNotFoundError("no slicens result saved for this search")
            search_internal = slicens.load(folder / _RESULT_FILE)
        parameter_lists = [model.vector_from_unit_vector(unit) for unit in
                           search_internal.positions.tolist()]
        log_prior_list = [sum(model.log_prior_list_from_vector(vector=vector))
                          for vector in parameter_lists]
        sample_list = Sample.from_lists(
            model=model,
            parameter_lists=parameter_lists,
            log_likelihood_list=search_internal.loglike.tolist(),
            log_prior_list=log_prior_list,
            weight_list=search_internal.weights.tolist(),
        )
        return SamplesNest(model=model, sample_list=sample_list,
                           samples_info=self.samples_info_from(search_internal=search_internal))


def _names(model) -> list[str]:
    """Unique parameter names ("gaussian.centre"), in the model's vector order."""
    names = [".".join(str(part) for part in path) for path in model.paths]
    if len(set(names)) != len(names):
        names = [f"x{i}" for i in range(model.prior_count)]
    return names
