"""slicens over several JAX processes: one process per GPU (or per node), e.g. a SLURM job.

Every process runs this same script. ``jax.distributed.initialize()`` joins them (under
SLURM it reads the coordinator, the number of processes and this process's id from the
job's environment; elsewhere pass ``--coordinator``, ``--num-processes`` and
``--process-id``); ``slicens.run`` then shards each batch of particles over the devices
of every process, and process 0 alone writes the checkpoint, the progress and (here) the
result. The checkpoint must be on a filesystem every process sees; calling the job again
continues an unfinished run, with the same or another number of processes or GPUs.

    sbatch examples/multi_process.slurm                       # 2 nodes x 4 GPUs

    # two processes on this machine's CPU (each with 2 virtual devices), for a try:
    for i in 0 1; do
      XLA_FLAGS=--xla_force_host_platform_device_count=2 python examples/multi_process.py \\
        --coordinator 127.0.0.1:12345 --num-processes 2 --process-id $i --scale tiny \\
        --max-iterations 20 --out /tmp/multi &
    done; wait
"""

import argparse

import jax


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coordinator", help="host:port of process 0 (default: SLURM's)")
    parser.add_argument("--num-processes", type=int, help="default: SLURM's")
    parser.add_argument("--process-id", type=int, help="default: SLURM's")
    parser.add_argument("--scale", default="laptop", choices=("tiny", "laptop", "hst"),
                        help="the synthetic lens problem (default: laptop)")
    parser.add_argument("--n-live", type=int, default=200)
    parser.add_argument("--max-iterations", type=int, help="stop early (a checkpoint continues)")
    parser.add_argument("--out", default="multi_process",
                        help="prefix of the checkpoint (OUT.ckpt) and result (OUT.npz)")
    return parser.parse_args()


def main():
    args = parse_args()
    jax.config.update("jax_enable_x64", True)
    # CPU devices of several processes exchange collectives over gloo (GPUs use NCCL
    # whatever this says)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=args.coordinator,
                               num_processes=args.num_processes, process_id=args.process_id)

    import slicens
    from slicens.problems import lens_problem

    problem = lens_problem(args.scale)
    result = slicens.run(problem.loglike, problem.prior, n_live=args.n_live,
                         max_iterations=args.max_iterations, checkpoint=f"{args.out}.ckpt",
                         likelihood_id=f"slicens.problems.lens_problem({args.scale!r})")
    if jax.process_index() == 0:  # every process holds the same result; one writes it
        print(f"{jax.process_count()} processes, {jax.device_count()} devices")
        print(result.summary())
        result.save(f"{args.out}.npz", overwrite=True)


if __name__ == "__main__":
    main()
