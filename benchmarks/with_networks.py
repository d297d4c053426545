"""Run a benchmark script with other settings of the bounds' networks, or with box tries
(measured variants: BENCHMARKS.md, "Bounded draws", seventh to tenth parts):

    python benchmarks/with_networks.py --per-mode --hidden 100 50 20 --batch 256 \\
        --steps 2000 -- benchmarks/bounded_runs.py lens --seeds 0 1 2

Sets ``bounded_record.NETWORKS_PER_MODE``, ``network.HIDDEN``, ``network.BATCH`` (0: full
batch), ``network.TRAIN_STEPS`` (the most steps), ``network.EPOCHS`` (0: None, always
``TRAIN_STEPS``) and ``network.MIN_STEPS`` in this process before anything is compiled
(a setting not given keeps its default), then runs the script after ``--`` with its
arguments. The ninth part's epochs: ``--epochs 250 --min-steps 500``. ``--box-tries``
/ ``--no-box-tries`` set ``bounds.BOX_TRIES`` (off by default; the tenth and eleventh
parts'):

    python benchmarks/with_networks.py --box-tries -- benchmarks/vs_nautilus.py \
        --seeds 8 --samplers bounds --per-seed --problems shells_2d mixture_5d
"""

import argparse
import os
import runpy
import sys

from slicens.core import bounds, network
from slicens.host import bounded_record


def main(argv):
    if "--" not in argv:
        raise SystemExit("usage: with_networks.py [settings] -- SCRIPT [ARGS...]")
    split = argv.index("--")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-mode", action=argparse.BooleanOptionalAction,
                        help="every ellipsoid of a split union takes its mode's networks")
    parser.add_argument("--hidden", type=int, nargs="+", help="hidden layer widths")
    parser.add_argument("--batch", type=int, help="rows per training step (0: full batch)")
    parser.add_argument("--steps", type=int, help="most training steps")
    parser.add_argument("--epochs", type=int,
                        help="passes over the training points (0: always --steps)")
    parser.add_argument("--min-steps", type=int, help="fewest training steps")
    parser.add_argument("--box-tries", action=argparse.BooleanOptionalAction,
                        help="bounds.BOX_TRIES: tries from the union's box where smaller")
    args = parser.parse_args(argv[:split])
    if args.box_tries is not None:
        bounds.BOX_TRIES = args.box_tries
    if args.per_mode is not None:
        bounded_record.NETWORKS_PER_MODE = args.per_mode
    if args.hidden is not None:
        network.HIDDEN = tuple(args.hidden)
    if args.batch is not None:
        network.BATCH = args.batch or None
    if args.steps is not None:
        network.TRAIN_STEPS = args.steps
    if args.epochs is not None:
        network.EPOCHS = args.epochs or None
    if args.min_steps is not None:
        network.MIN_STEPS = args.min_steps
    steps = (f"{network.TRAIN_STEPS}" if network.EPOCHS is None else
             f"{network.EPOCHS} epochs in {network.MIN_STEPS}-{network.TRAIN_STEPS}")
    print(f"with_networks: per mode {bounded_record.NETWORKS_PER_MODE}, hidden "
          f"{network.HIDDEN}, batch {network.BATCH}, steps {steps}, box tries "
          f"{bounds.BOX_TRIES}", flush=True)
    script, *rest = argv[split + 1:]
    sys.argv = [script, *rest]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
