"""Compilation of slicens.autofit.NSS on PyAutoLens's standard MGE source model.

    python benchmarks/autolens_mge.py [--pixels 80] [--gaussians 20]

Needs Python >= 3.12 with autolens installed (``pip install autolens``). Simulates an
Isothermal + ExternalShear lens of an MGE-like source, builds the workspace's MGE source
model (``al.model_util.mge_model_from``: priors shared between the Gaussians), then runs
slicens.autofit.NSS for a few iterations and prints the model's dimension and the
compilation split (tracing, lowering and XLA time per program, and the memory-probe
compilations of ``chunk_size="auto"``). A second fit of the same search resumes from the
checkpoint and prints its split too.
"""

import argparse
import logging
import os
import tempfile
import time

os.environ.setdefault("PYAUTO_SKIP_WORKSPACE_VERSION_CHECK", "1")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import _common  # noqa: E402
import autofit as af  # noqa: E402
import autolens as al  # noqa: E402
from autonerves import conf  # noqa: E402

from slicens.autofit import NSS  # noqa: E402

#: The simulated source's centre (arcsec).
SOURCE_CENTRE = (0.1, 0.1)


def true_tracer():
    """The simulated lens: an Isothermal + ExternalShear lens of a Sersic source."""
    lens = al.Galaxy(redshift=0.5, mass=al.mp.Isothermal(centre=(0.0, 0.0),
                                                        ell_comps=(0.1, 0.05),
                                                        einstein_radius=1.6),
                     shear=al.mp.ExternalShear(gamma_1=0.05, gamma_2=0.05))
    source = al.Galaxy(redshift=1.0, bulge=al.lp.Sersic(centre=SOURCE_CENTRE,
                                                         ell_comps=(0.1, 0.0), intensity=1.0,
                                                         effective_radius=0.3,
                                                         sersic_index=2.0))
    return al.Tracer(galaxies=[lens, source])


def simulate(pixels: int, pixel_scale: float = 0.1):
    grid = al.Grid2D.uniform(shape_native=(pixels, pixels), pixel_scales=pixel_scale)
    psf = al.Convolver.from_gaussian(shape_native=(11, 11), sigma=0.1,
                                     pixel_scales=pixel_scale, normalize=True)
    simulator = al.SimulatorImaging(exposure_time=300.0, psf=psf, background_sky_level=0.1,
                                    add_poisson_noise_to_data=True, noise_seed=1)
    dataset = simulator.via_tracer_from(tracer=true_tracer(), grid=grid)
    mask = al.Mask2D.circular(shape_native=dataset.shape_native,
                              pixel_scales=dataset.pixel_scales, radius=3.0)
    return dataset.apply_mask(mask=mask)


def lensed(source):
    """The model of the simulated lens (Isothermal + ExternalShear, free) lensing
    ``source``, a model of the source galaxy."""
    lens = af.Model(al.Galaxy, redshift=0.5, mass=al.mp.Isothermal, shear=al.mp.ExternalShear)
    return af.Collection(galaxies=af.Collection(lens=lens, source=source))


def make_model(gaussians: int):
    bulge = al.model_util.mge_model_from(mask_radius=3.0, total_gaussians=gaussians,
                                         centre_prior_is_uniform=True)
    return lensed(af.Model(al.Galaxy, redshift=1.0, bulge=bulge))


def show(label: str, result, wall: float) -> None:
    internal = result.search_internal
    print(f"{label}: wall {wall:.1f} s, of which compiling {internal.compile_time:.1f} s; "
          f"stopped by {internal.termination} after {internal.n_evals} evaluations")
    print(f"  {'program':<8} {'chunk':>5} {'purpose':<13} {'trace s':>8} {'lower s':>8} "
          f"{'XLA s':>8}")
    for c in internal.compilations:
        print(f"  {c['program']:<8} {str(c['chunk_size']):>5} {c['purpose']:<13} "
              f"{c['trace']:8.1f} {c['lower']:8.1f} {c['compile']:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixels", type=int, default=80)
    parser.add_argument("--gaussians", type=int, default=20)
    args = parser.parse_args()
    logging.getLogger("slicens").setLevel(logging.WARNING)
    print(_common.machine())
    dataset = simulate(args.pixels)
    model = make_model(args.gaussians)
    print(f"autolens {al.__version__}; {args.pixels}^2 pixels, MGE source of "
          f"{args.gaussians} Gaussians: {len(model.paths)} model paths, "
          f"{model.prior_count} free priors")
    with tempfile.TemporaryDirectory() as folder:
        conf.instance.output_path = folder
        for label in ("first fit", "resumed fit"):
            search = NSS(name="mge", n_live=100, num_delete=10, max_evals=3000, seed=1,
                         progress=False)
            start = time.perf_counter()
            result = search.fit(model=model, analysis=al.AnalysisImaging(dataset=dataset,
                                                                          use_jax=True))
            show(label, result, time.perf_counter() - start)
            print(f"  dimension sampled: {result.search_internal.positions.shape[1]}")


if __name__ == "__main__":
    main()
