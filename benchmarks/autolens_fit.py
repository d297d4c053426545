"""A real PyAutoLens fit: slicens.autofit.NSS against af.Nautilus on the MGE lens model.

    python benchmarks/autolens_fit.py --sampler bounds     # slicens, method="bounds"
    python benchmarks/autolens_fit.py --sampler slice      # slicens, nested slice sampling
    python benchmarks/autolens_fit.py --sampler nautilus   # af.Nautilus
    python benchmarks/autolens_fit.py --sampler nautilus-discard  # discard_exploration=True
    [--pixels 60] [--gaussians 20] [--n-live 200] [--n-eff 500] [--seed 0]

One sampler per process (run the script once per sampler). Needs Python >= 3.12 with
autolens. Simulates benchmarks/autolens_mge.py's Isothermal + ExternalShear lens of a
Sersic source on ``pixels``^2 pixels, fits the workspace's MGE source model (11 free
parameters at 20 Gaussians: priors shared between the Gaussians) at the same ``n_live``
for every sampler, and prints the likelihood evaluations, wall time, logZ, the posterior
ESS, each parameter's median with its 1-sigma interval, and the maximum log-likelihood.
``--n-eff`` is af.Nautilus's ``n_eff`` (its default, 500) and slicens's ``min_ess`` under
``method="bounds"``, so both stop at the same posterior ESS. ``nautilus-discard`` is
af.Nautilus with ``discard_exploration=True``: its estimate then weighs only the points
drawn after its bounds were fixed, as slicens's does (unbiased where bounds adapt).
``--max-evals`` caps a slicens run; ``--log-bounds`` logs each bound a bounded run fits;
``--box-tries`` / ``--no-box-tries`` set :data:`slicens.core.bounds.BOX_TRIES` (off by
default, where this fit's exploration stalls: BENCHMARKS.md, "tenth part");
``--exploration reuse`` keeps the exploration's points (``exploration="reuse"``);
``--keep-record PATH`` pickles a bounded run's record (benchmarks/reuse_forecast.py);
``--n-update N`` sets ``run_bounded``'s ``n_update`` (a new bound after ``N`` new points
above the newest's threshold; default ``n_live // 2``); ``--f-live F`` sets NSS's
``f_live`` (exploration ends once the ``n_live`` best points hold less than ``F`` of
the evidence; default 0.01). ``--source pixelized`` fits a
pixelized source instead of the MGE (PyAutoLens's ``RectangularUniform`` mesh of
``--mesh`` x ``--mesh`` pixels with ``Constant`` regularization, its coefficient free:
8 free parameters), the linear inversion per call that slicens exists for; with
``--max-evals`` it measures the cost per evaluation (BENCHMARKS.md).
"""

import argparse
import functools
import logging
import os
import pickle
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PYAUTO_SKIP_WORKSPACE_VERSION_CHECK", "1")
# af.Nautilus's vmapped likelihood (PSF convolutions by FFT) deadlocks on jaxlib 0.11.2 on
# a 2-core CPU without this (README, "Known hazards" 2: measured here, 0% CPU after the
# first batch); slicens passes the same option to its own compilations.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

import _common  # noqa: E402
import _records  # noqa: E402
import autofit as af  # noqa: E402
import autolens as al  # noqa: E402
from autolens_mge import SOURCE_CENTRE, lensed, make_model, simulate, true_tracer  # noqa: E402
from autonerves import conf  # noqa: E402

from slicens.autofit import NSS  # noqa: E402
from slicens.core import bounds  # noqa: E402
from slicens.host import bounded  # noqa: E402


def search_for(sampler: str, n_live: int, n_eff: int, seed: int, max_evals: int | None,
               exploration: str | None = None, f_live: float | None = None):
    if sampler.startswith("nautilus"):
        return af.Nautilus(name=f"mge_{sampler}", n_live=n_live, n_eff=n_eff, seed=seed,
                           number_of_cores=1,
                           discard_exploration=sampler == "nautilus-discard")
    if sampler == "bounds":
        return NSS(name="mge_bounds", method="bounds", n_live=n_live, min_ess=n_eff,
                   seed=seed, progress="log", max_evals=max_evals, exploration=exploration,
                   f_live=f_live)
    return NSS(name="mge_slice", n_live=n_live, seed=seed, progress="log", max_evals=max_evals)


def pixelized_model(mesh: int):
    """The lens of :func:`autolens_mge.make_model` and a pixelized source: a uniform
    ``mesh`` x ``mesh`` rectangular mesh, constant regularization (its coefficient free)."""
    pixelization = af.Model(al.Pixelization, mesh=al.mesh.RectangularUniform(shape=(mesh, mesh)),
                            regularization=al.reg.Constant)
    return lensed(af.Model(al.Galaxy, redshift=1.0, pixelization=pixelization))


def positions_likelihood(dataset):
    """PyAutoLens's guard against demagnified pixelized solutions (it refuses a pixelized
    fit without one): the true source centre's multiple images, traced within 0.3"."""
    solver = al.PointSolver.for_grid(grid=dataset.grid, pixel_scale_precision=0.001)
    images = solver.solve(tracer=true_tracer(), source_plane_coordinate=SOURCE_CENTRE)
    return [al.PositionsLH(positions=images, threshold=0.3)]


def report(sampler: str, result, wall: float) -> None:
    samples = result.samples
    info = samples.samples_info
    if sampler.startswith("nautilus"):
        internal = result.search_internal
        evals, ess, error = int(internal.n_like), float(internal.n_eff), float("nan")
    else:
        evals, ess, error = info["total_samples"], info["ess"], info["log_evidence_error"]
    print(f"{sampler}: {evals:,} likelihood evaluations, wall {wall:.0f} s, "
          f"logZ {samples.log_evidence:.3f} +/- {error:.3f}, ESS {ess:.0f}, "
          f"max log L {max(s.log_likelihood for s in samples.sample_list):.3f}")
    if not sampler.startswith("nautilus"):
        print(f"  sampling {info['sampling_time']:.0f} s "
              f"({1000 * info['sampling_time'] / evals:.1f} ms per evaluation), compiling "
              f"{info['compile_time']:.0f} s")
    if sampler == "bounds":
        print(f"  nested-sampling estimate beside: logZ {info['nested_log_evidence']:.3f} +/- "
              f"{info['nested_log_evidence_error']:.3f}")
        print(f"  {info['estimator']}; exploration {info['exploration_evals']:,}, "
              f"sampling {info['sampling_evals']:,}, {info['n_bounds']} bounds")
    names = samples.model.model_component_and_parameter_names
    median = samples.median_pdf(as_instance=False)
    lower = samples.values_at_lower_sigma(1.0, as_instance=False)
    upper = samples.values_at_upper_sigma(1.0, as_instance=False)
    print(f"  {'parameter':<48} {'median':>10} {'-1 sigma':>10} {'+1 sigma':>10}")
    for name, m, lo, hi in zip(names, median, lower, upper, strict=True):
        print(f"  {name:<48} {m:10.4f} {lo - m:10.4f} {hi - m:+10.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sampler", required=True,
                        choices=("bounds", "slice", "nautilus", "nautilus-discard"))
    parser.add_argument("--pixels", type=int, default=60)
    parser.add_argument("--gaussians", type=int, default=20)
    parser.add_argument("--source", choices=("mge", "pixelized"), default="mge")
    parser.add_argument("--mesh", type=int, default=20,
                        help="--source pixelized: the mesh's pixels per side")
    parser.add_argument("--n-live", type=int, default=200)
    parser.add_argument("--n-eff", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-evals", type=int, default=None,
                        help="slicens only: stop there (the fit is then not converged)")
    parser.add_argument("--box-tries", action=argparse.BooleanOptionalAction,
                        help="slicens.core.bounds.BOX_TRIES (off by default): try a bound "
                             "from its union's box where that is smaller than its ellipsoids")
    parser.add_argument("--exploration", choices=("reuse", "discard", "every"),
                        help="slicens bounds only: which points the estimate keeps")
    parser.add_argument("--log-bounds", action="store_true",
                        help="log each bound a bounded run fits (slicens's INFO lines)")
    parser.add_argument("--n-update", type=int,
                        help="slicens bounds only: run_bounded's n_update (default n_live // 2; "
                             "not a setting of NSS)")
    parser.add_argument("--f-live", type=float,
                        help="slicens bounds only: NSS's f_live (default 0.01)")
    parser.add_argument("--keep-record", type=Path,
                        help="slicens bounds only: pickle the run's record there "
                             "(benchmarks/reuse_forecast.py --records)")
    args = parser.parse_args()
    logging.getLogger("slicens").setLevel(logging.INFO if args.log_bounds else logging.WARNING)
    if args.box_tries is not None:
        bounds.BOX_TRIES = args.box_tries
    if args.n_update is not None:
        bounded.run_bounded = functools.partial(bounded.run_bounded, n_update=args.n_update)
    print(_common.machine())
    dataset = simulate(args.pixels)
    if args.source == "mge":
        model, source = make_model(args.gaussians), f"MGE source of {args.gaussians} Gaussians"
    else:
        model, source = pixelized_model(args.mesh), f"{args.mesh}^2 pixelized source"
    print(f"autolens {al.__version__}; {args.pixels}^2 pixels, {source}, "
          f"{model.prior_count} free parameters; n_live "
          f"{args.n_live}, n_eff / min_ess {args.n_eff}, seed {args.seed}")
    with tempfile.TemporaryDirectory() as folder:
        conf.instance.output_path = folder
        search = search_for(args.sampler, args.n_live, args.n_eff, args.seed, args.max_evals,
                            args.exploration, args.f_live)
        start = time.perf_counter()
        with _records.kept() as held:
            positions = positions_likelihood(dataset) if args.source == "pixelized" else None
            analysis = al.AnalysisImaging(dataset=dataset, use_jax=True,
                                          positions_likelihood_list=positions)
            result = search.fit(model=model, analysis=analysis)
        report(args.sampler, result, time.perf_counter() - start)
    if args.keep_record is not None:
        args.keep_record.write_bytes(pickle.dumps(_records.record(held)))


if __name__ == "__main__":
    main()
