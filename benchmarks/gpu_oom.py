"""Out of device memory on a GPU: issue 13's HST-scale case, and what slicens does with it.

    python benchmarks/gpu_oom.py                                   # the H100 case
    python benchmarks/gpu_oom.py --scale tiny --memory-budget 40MB # a CPU check

HST-scale lens cell (15,380 x 1,521 dense mapping matrix, float64), n_live 256,
num_delete 192, 3 inner steps, ``chunk_size=192``, one iteration. On an 80 GB H100 (jax
0.11.2) compiling that chunk ran out of memory inside XLA's GPU autotuner (it allocated
33.48 GiB of scratch for the batched ``f64[192,15380,1521]`` product), before anything
ran; slicens then crashed. Now compiling out of memory halves the chunk, and a compiled
peak over the device's free memory (or ``--memory-budget``) is not started: the run takes
the chunk ``chunk_size="auto"`` chooses. Prints, for each run, the chunk it finished
with, every change of chunk (``result.memory["history"]``), the compilations (those that
ran out of memory marked), the device's peak bytes in use, and the probe's table.

On a CPU nothing runs out at these sizes; ``--scale tiny --memory-budget 40MB`` shows the
explicit chunk refused for the budget instead.
"""

import argparse
import logging
import sys
import time

import _common
import jax

import slicens
from slicens.host.memory import format_bytes
from slicens.problems import lens_problem


def device_peak() -> str:
    stats = jax.devices()[0].memory_stats()
    return "n/a" if not stats else format_bytes(stats.get("peak_bytes_in_use", 0))


def report(name: str, result) -> None:
    memory = result.memory
    print(f"{name}: finished at chunk_size={memory['chunk_size']} ({memory['mode']}; "
          f"compiled peak {format_bytes(memory['compiled_peak'])}); {result.n_evals} "
          f"evaluations; compile {result.compile_time:.1f} s of {result.wall_time:.1f} s; "
          f"device peak_bytes_in_use {device_peak()}")
    for event in memory["history"]:
        print(f"  history: iteration {event['iteration']}, {event['stage']}: -> chunk_size="
              f"{event['chunk_size']} ({event['error'][:160]})")
    for c in result.compilations:
        what = "OUT OF MEMORY" if c.get("out_of_memory") else f"{c.get('compile', 0):.1f} s XLA"
        print(f"  compiled {c['program']} at chunk {c['chunk_size']} ({c['purpose']}): {what}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="hst", choices=["tiny", "laptop", "hst"])
    parser.add_argument("--n-live", type=int, default=256)
    parser.add_argument("--num-delete", type=int, default=192)
    parser.add_argument("--chunk", type=int, default=192)
    parser.add_argument("--memory-budget", default=None,
                        help="also run the explicit chunk against this budget")
    parser.add_argument("--no-probe", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format="  log: %(message)s")
    print(_common.machine())
    problem = lens_problem(args.scale, curvature="dense")
    print(f"lens {args.scale}: {problem.n_pixels} x {problem.n_source}, dense, float64; "
          f"n_live={args.n_live}, num_delete={args.num_delete}, chunk_size={args.chunk}, "
          f"num_inner_steps=3, one iteration", flush=True)
    kwargs = dict(n_live=args.n_live, num_delete=args.num_delete, num_inner_steps=3,
                  chunk_size=args.chunk, max_iterations=1, seed=0, progress=False)
    budgets = [None] + ([args.memory_budget] if args.memory_budget else [])
    for budget in budgets:
        start = time.perf_counter()
        result = slicens.run(problem.loglike, problem.prior, memory_budget=budget, **kwargs)
        report(f"chunk_size={args.chunk}, memory_budget={budget!r} "
               f"({time.perf_counter() - start:.1f} s)", result)
        sys.stdout.flush()
    if not args.no_probe:
        start = time.perf_counter()
        probe = slicens.probe_memory(problem.loglike, problem.prior, n_live=args.n_live,
                                     num_delete=args.num_delete, num_inner_steps=3,
                                     memory_budget=args.memory_budget)
        print(f"probe_memory ({time.perf_counter() - start:.1f} s):\n{probe.table()}")


if __name__ == "__main__":
    main()
