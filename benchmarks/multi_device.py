"""Useful likelihood evaluations per second of the laptop lens on 1, 2 and 4 devices.

    python benchmarks/multi_device.py [--devices 1 2 4] [--cpu-devices 4]
                                      [--iterations 20] [--chunk 4] [--dense]

Runs unchanged on a machine with several GPUs (it uses the devices JAX sees). On a CPU,
``--cpu-devices N`` forces N virtual devices (``--xla_force_host_platform_device_count``):
they share the same cores, so the figures there show that the runs agree and what the
sharding costs, not a speed-up. Every run has the same seed and settings; each is
compared with the first (same dead points; largest log-likelihood difference).
Sampling time excludes compilation (``result.sampling_time``).
"""

import argparse
import os
import time


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--cpu-devices", type=int, default=None,
                        help="force this many virtual CPU devices (CPU only)")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--chunk", type=int, default=4, help="lanes per device")
    parser.add_argument("--n-live", type=int, default=64)
    parser.add_argument("--dense", action="store_true")
    return parser.parse_args()


def main() -> None:
    args = parse()
    if args.cpu_devices:  # before JAX starts
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   f" --xla_force_host_platform_device_count={args.cpu_devices}")
    import _common  # noqa: I001  (sets float64 before anything uses JAX)
    import jax
    import numpy as np

    import slicens
    from slicens.problems import lens_problem

    problem = lens_problem("laptop", curvature="dense" if args.dense else "sparse")
    print(_common.machine(), f"| {len(jax.devices())} devices")
    print(f"lens laptop ({problem.n_pixels} x {problem.n_source}, "
          f"{'dense' if args.dense else 'sparse'} curvature), n_live={args.n_live}, "
          f"num_delete=16, chunk_size={args.chunk} per device, {args.iterations} iterations, "
          f"seed 0")
    print(f"{'devices':>7} {'sample s':>9} {'compile s':>10} {'evals':>7} {'evals/s':>8} "
          f"{'vs 1st':>7} {'same points':>12} {'max |dlogL|':>12}")
    first = None
    for devices in args.devices:
        start = time.perf_counter()
        r = slicens.run(problem.loglike, problem.prior, n_live=args.n_live, num_delete=16,
                        chunk_size=args.chunk, devices=devices, seed=0,
                        max_iterations=args.iterations, progress=False)
        assert time.perf_counter() - start >= r.sampling_time
        rate = r.n_evals / r.sampling_time
        first = first or (r, rate)
        same = np.array_equal(r.positions, first[0].positions)
        dlogl = np.max(np.abs(r.loglike - first[0].loglike)) if same else float("nan")
        print(f"{devices:7d} {r.sampling_time:9.1f} {r.compile_time:10.1f} {r.n_evals:7d} "
              f"{rate:8.0f} {rate / first[1]:7.2f} {str(same):>12} {dlogl:12.2e}", flush=True)


if __name__ == "__main__":
    main()
