"""Loop overhead: slicens's device-side loop against a host loop over a jitted
blackjax.nss step (the af.NSS pattern), and the cost of a checkpoint against run length.

    python benchmarks/loop_overhead.py [--n-live 500] [--num-delete 50]

Cheap 2-d and 10-d Gaussians, same n_live, num_delete and num_inner_steps, to the same
dlogz, on one machine in one run. Wall times include compilation; the compile part is
printed separately (slicens: ``result.compile_time``; blackjax: its first step).
Then a checkpointed slicens run writes after every dispatch and the time and size of each
write are printed against the number of dead points already in the file.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import _common
import numpy as np

import slicens
import slicens.host.checkpoint
from slicens.priors import as_prior
from slicens.problems import gaussian

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.blackjax_peer import run_blackjax_nss  # noqa: E402


def loop_overhead(dim: int, n_live: int, num_delete: int) -> None:
    problem = gaussian(dim)
    steps = slicens.default_num_inner_steps(dim)
    print(f"\n== {dim}-d Gaussian: n_live={n_live}, num_delete={num_delete}, "
          f"num_inner_steps={steps}, dlogz=0.01, float64, analytic logZ {problem.logZ:.3f}")
    r = slicens.run(problem.loglike, problem.prior, n_live=n_live, num_delete=num_delete,
                    num_inner_steps=steps, seed=0, progress=False)
    p = run_blackjax_nss(problem.loglike, as_prior(problem.prior), n_live=n_live,
                         num_delete=num_delete,
                         num_inner_steps=steps, seed=0)
    print(f"{'sampler':<26} {'wall s':>7} {'compile s':>9} {'rest s':>7} {'iterations':>10} "
          f"{'evals':>9} {'logZ':>8} {'err':>6}")
    print(f"{'slicens (device loop)':<26} {r.wall_time:7.2f} {r.compile_time:9.2f} "
          f"{r.sampling_time:7.2f} {r.n_iterations:10d} {r.n_evals:9d} {r.logZ:8.3f} "
          f"{r.logZ_err:6.3f}")
    print(f"{'blackjax.nss (host loop)':<26} {p.wall_time:7.2f} {p.first_step_time:9.2f} "
          f"{p.wall_time - p.first_step_time:7.2f} {p.n_iterations:10d} {p.n_evals:9d} "
          f"{p.logZ:8.3f} {p.logZ_err:6.3f}")
    print(f"speed-up, wall: {p.wall_time / r.wall_time:.2f}x; after compilation: "
          f"{(p.wall_time - p.first_step_time) / r.sampling_time:.2f}x")


def checkpoint_cost(n_live: int, num_delete: int) -> None:
    problem = gaussian(10)
    writes = []
    original = slicens.host.checkpoint.Checkpoint._write

    def timed(self, records):
        start = time.perf_counter()
        original(self, records)
        writes.append((self._size, len(records), time.perf_counter() - start))

    slicens.host.checkpoint.Checkpoint._write = timed
    try:
        with tempfile.TemporaryDirectory() as folder:
            r = slicens.run(problem.loglike, problem.prior, n_live=n_live, num_delete=num_delete,
                            checkpoint=Path(folder) / "run.ckpt", checkpoint_every=0,
                            progress=False)
    finally:
        slicens.host.checkpoint.Checkpoint._write = original
    print(f"\n== checkpoint after every dispatch, 10-d Gaussian, n_live={n_live}: "
          f"{len(writes)} writes, {r.n_iterations} iterations")
    print(f"{'file bytes before':>17} {'bytes written':>13} {'ms (incl. fsync)':>16}")
    for i in np.unique(np.linspace(0, len(writes) - 1, 8).astype(int)):
        size, written, seconds = writes[i]
        print(f"{size - written:17,d} {written:13,d} {1000 * seconds:16.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-live", type=int, default=500)
    parser.add_argument("--num-delete", type=int, default=50)
    args = parser.parse_args()
    import jax

    jax.config.update("jax_enable_x64", True)
    print(_common.machine())
    for dim in (2, 10):
        loop_overhead(dim, args.n_live, args.num_delete)
    checkpoint_cost(args.n_live, args.num_delete)


if __name__ == "__main__":
    main()
