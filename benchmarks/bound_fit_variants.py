"""How tight one bound comes out under variants of its fit: run the tiny lens to a number
of evaluations (kept in a checkpoint: later calls with it start from its points), then fit
the next bound again under each variant and measure it.

    python benchmarks/bound_fit_variants.py --evals 14000 --checkpoint /tmp/lens14k.ckpt \\
        "default" "per_mode_big: per_mode=True hidden=(100,50,20) batch=256 steps=4000"

A variant is ``name: key=value ...`` with keys ``enlargement`` (3.0), ``split`` (True),
``per_mode`` (``bounded_record.NETWORKS_PER_MODE``), ``hidden`` (``network.HIDDEN``),
``steps`` (``network.TRAIN_STEPS``), ``epochs`` (``network.EPOCHS``; None: always
``steps``), ``batch`` (``network.BATCH``; None: full batch),
``train_points`` (``bounded_record.TRAIN_POINTS``): the library's settings where not
given (before the eighth part: 500 full-batch steps, ``steps=500 batch=None``; the eighth
part: ``epochs=None``). Printed per
variant: the union's and the refined bound's counted log volumes, the contour's log
volume from the importance weights of every point (the region above the threshold), the
share of the bound's volume that is inside the contour by that estimate ("ideal"), the
share of 1,000 draws from the bound above the threshold (measured: what the exploration
gets per evaluation), the recall (the share of the evaluated points above the threshold
that the bound keeps), the ellipsoids, and the fit's seconds (training and counting).
"""

import argparse
import ast
import logging
import time
from pathlib import Path

import _common
import jax
import jax.numpy as jnp
import numpy as np

from slicens.core import network
from slicens.core.chunking import Execution
from slicens.host import bounded, bounded_checkpoint
from slicens.host import bounded_record as rec
from slicens.host.settings import default_max_clusters
from slicens.priors import as_prior
from slicens.problems import lens_problem

N_LIVE, N_BATCH, DRAW_BATCHES = 500, 125, 8
DEFAULTS = dict(enlargement=3.0, split=True, per_mode=rec.NETWORKS_PER_MODE,
                hidden=network.HIDDEN, steps=network.TRAIN_STEPS, epochs=network.EPOCHS,
                batch=network.BATCH, train_points=rec.TRAIN_POINTS)


def parse(spec: str) -> tuple[str, dict]:
    name, _, rest = spec.partition(":")
    options = dict(DEFAULTS)
    for item in rest.split():
        key, _, value = item.partition("=")
        if key not in DEFAULTS:
            raise ValueError(f"unknown key {key!r} in variant {spec!r}; keys: {list(DEFAULTS)}")
        options[key] = ast.literal_eval(value)
    return name.strip(), options


def draw(programs, union, refinement, key):
    u, filled = programs.draw(key, union, refinement)
    if int(filled) < u.shape[0]:
        raise RuntimeError(f"the bound filled {int(filled)} of {u.shape[0]} draws")
    return np.asarray(u)


def measure(problem, prior, points, found, name: str, options: dict) -> None:
    network.HIDDEN, network.TRAIN_STEPS = tuple(options["hidden"]), options["steps"]
    network.BATCH, network.EPOCHS = options["batch"], options["epochs"]
    rec.TRAIN_POINTS, rec.NETWORKS_PER_MODE = options["train_points"], options["per_mode"]
    rec.learn_program.cache_clear()
    jax.clear_caches()  # the traces read the network's settings
    programs = bounded._Programs(problem.loglike, prior, N_LIVE, N_BATCH,
                                 default_max_clusters(N_LIVE, prior.dim),
                                 options["enlargement"], Execution(N_BATCH, "lanes", ()),
                                 options["split"], True)
    start = time.perf_counter()
    key = jax.random.key(7)
    union, refinement, threshold = rec.fit_bound(programs, points, found, key)
    whole = programs.count(key, union, None)
    bound = programs.count(key, union, refinement)
    seconds = time.perf_counter() - start
    u = np.concatenate([draw(programs, union, refinement, jax.random.fold_in(key, 100 + i))
                        for i in range(DRAW_BATCHES)])
    value = np.concatenate([np.asarray(programs.evaluate(jnp.asarray(u[i:i + N_BATCH]), 0))
                            for i in range(0, u.shape[0], N_BATCH)])
    above = points.loglike[: points.n] >= threshold
    kept = rec.membership(programs, union, points.u[: points.n], refinement)
    # the volume above the threshold from every point's mixture weight (1 / density)
    contour = rec._represented_log_volume(points, found, np.flatnonzero(above))
    print(f"{name}: threshold {threshold:.2f} union log V {float(whole.log_volume):.2f} bound "
          f"log V {float(bound.log_volume):.2f} contour log V {contour:.2f} ideal share "
          f"{np.exp(contour - float(bound.log_volume)):.3f} drawn share above "
          f"{np.mean(value >= threshold):.3f} ({value.size}) recall "
          f"{np.sum(kept & above) / max(np.sum(above), 1):.3f} ellipsoids "
          f"{int(np.sum(np.asarray(union.radius) > 0))} fit {seconds:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("variants", nargs="+", help="name: key=value ...")
    parser.add_argument("--evals", type=int, default=14_000)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    variants = [parse(v) for v in args.variants]  # errors before the run
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("jax").setLevel(logging.WARNING)
    print(_common.machine())
    problem = lens_problem("tiny", curvature="sparse")
    prior = as_prior(problem.prior)
    if not Path(args.checkpoint).exists():  # a continued run would move on a batch
        result = bounded.run_bounded(problem.loglike, prior, n_live=N_LIVE, seed=args.seed,
                                     chunk_size=None, max_evals=args.evals,
                                     checkpoint=args.checkpoint, report=True)
        print(f"the run: {result.n_evals} evaluations, {len(result.bound_log_volumes)} bounds")
    stored = bounded_checkpoint.load(args.checkpoint)
    for name, options in variants:
        measure(problem, prior, stored.points, stored.found, name, options)


if __name__ == "__main__":
    main()
