"""One process of a run over several JAX processes on this machine, for
tests/test_devices.py: ``python process_runs.py OUT PROCESS N_PROCESSES PORT DEVICES
CHECKPOINT [NAME=VALUE ...]``.

With ``N_PROCESSES > 1`` the process joins the others through
``jax.distributed.initialize`` (coordinator 127.0.0.1:PORT, CPU collectives over gloo);
with 1 it runs alone. Each process has ``DEVICES`` forced CPU devices and runs
device_problems.py's shifted Gaussian with a checkpoint at ``CHECKPOINT`` (``NAME=VALUE``
overrides a setting of ``run``, e.g. ``max_iterations=3`` or ``max_time=0.5`` to stop
early so that another set of processes continues it, or ``chunk_size=auto``), then saves
``OUT.PROCESS.npz``: the result's fields, its termination and ``writes``, how many times
this process wrote the checkpoint.
"""

import os
import sys

out, process, n_processes, port, n_devices, checkpoint = sys.argv[1:7]
overrides = dict(arg.split("=", 1) for arg in sys.argv[7:])
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + f" --xla_force_host_platform_device_count={int(n_devices)}")

import jax  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)
if int(n_processes) > 1:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}",
                               num_processes=int(n_processes), process_id=int(process))

from device_problems import FIELDS, shifted_gaussian  # noqa: E402

import slicens  # noqa: E402
from slicens.host.checkpoint import Checkpoint  # noqa: E402

writes = []


def counted(write):
    def counting(*args, **kwargs):
        writes.append(1)
        return write(*args, **kwargs)
    return counting


for method in ("create", "append", "finish"):  # count this process's checkpoint writes
    setattr(Checkpoint, method, counted(getattr(Checkpoint, method)))

loglike, prior = shifted_gaussian()
settings = dict(n_live=40, num_delete=10, chunk_size=2, seed=11, progress=False)
for name, value in overrides.items():
    settings[name] = value if name == "chunk_size" and value == "auto" else float(value) if (
        "." in value) else int(value)
result = slicens.run(loglike, prior, checkpoint=checkpoint, **settings)
saved = {name: np.asarray(getattr(result, name)) for name in FIELDS}
np.savez(f"{out}.{process}.npz", writes=len(writes), devices=len(result.memory["devices"]),
         termination=result.termination, chunk_size=result.memory["chunk_size"], **saved)
