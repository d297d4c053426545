"""Runs of one problem on several virtual CPU devices, for tests/test_devices.py:
``python sharded_runs.py OUT.npz PROBLEM DEVICES [DEVICES ...] [--resume-from D]``.

The process forces 4 host devices (``--xla_force_host_platform_device_count=4``), so the
test process itself keeps one. For each device count it runs ``PROBLEM`` (``gaussian``,
device_problems.py's shifted Gaussian; ``bounds``, the same with ``method="bounds"``; or
``lens``, the tiny lens) and saves the dead
points, log-likelihoods, logZ and counts under ``{devices}.{field}``, and the error for
a single device other than the first (``refused_single_other_device``);
``--resume-from D`` also runs on ``D`` devices to iteration 3 with a checkpoint and
finishes it on each device count (``resumed{devices}.{field}``).
``PROBLEM = memory`` instead compiles (without running) a mapping-matrix likelihood's
programs at 2 lanes per device and saves their temp bytes per device
(``{devices}.init_temp``, ``{devices}.block_temp``).
"""

import functools
import os
import sys

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_force_host_platform_device_count=4")

import jax  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)

from device_problems import BOUNDED_FIELDS, FIELDS, shifted_gaussian  # noqa: E402

import slicens  # noqa: E402
from slicens.problems import lens_problem  # noqa: E402


def settings(problem_name: str) -> dict:
    if problem_name == "bounds":  # a few bounds into the exploration, 10 draws per batch
        return dict(n_live=40, chunk_size=2, seed=11, progress=False, method="bounds",
                    max_evals=800)
    common = dict(n_live=40, num_delete=10, chunk_size=2, seed=11, progress=False)
    return common if problem_name == "gaussian" else dict(common, max_iterations=8)


def fields(result, prefix: str) -> dict:
    names = BOUNDED_FIELDS if isinstance(result, slicens.BoundedResult) else FIELDS
    out = {f"{prefix}.{name}": np.asarray(getattr(result, name)) for name in names}
    out[f"{prefix}.devices"] = np.asarray(len(result.memory["devices"]))
    return out


@functools.cache
def mapping_loglike():
    from slicens.problems.mapping import mapping_matrix_loglike

    return mapping_matrix_loglike(4_000, 400)  # 12.8 MB per evaluation


def compiled_temps(devices: int, chunk: int = 2) -> dict:
    """Temp bytes per device of the programs a run on ``devices`` compiles at ``chunk``."""
    from slicens.core import blocks
    from slicens.host.compiled import Compiler
    from slicens.host.settings import resolve, resolve_devices
    from slicens.problems.mapping import MAPPING_PRIOR

    loglike = mapping_loglike()
    prior, settings, _, _ = resolve(
        loglike, MAPPING_PRIOR, n_live=64, num_delete=16, num_inner_steps=4, chunk_size=chunk,
        memory_budget=None, schedule="lanes", max_expansions=None, max_shrinkage=100)
    capacity = blocks.block_capacity(settings.num_delete, prior.dim,
                                     keep_per_chain=settings.keep_per_chain)
    program = Compiler(loglike, prior, settings, "lanes", capacity,
                       devices=resolve_devices(devices)).program(chunk)
    return {f"{devices}.init_temp": program.init_memory.temp,
            f"{devices}.block_temp": program.block_memory.temp}


def refusal(devices) -> str:
    """The error ``run`` gives for ``devices`` ("" if none)."""
    try:
        slicens.run(lambda x: -x[0] ** 2, [slicens.Uniform(0, 1)], devices=devices)
    except ValueError as exc:
        return str(exc)
    return ""


def main(argv):
    out, problem_name, rest = argv[0], argv[1], argv[2:]
    if problem_name == "memory":
        saved = {}
        for devices in map(int, rest):
            saved.update(compiled_temps(devices))
        saved.update({f"one_device_{k}": v for k, v in compiled_temps(1, chunk=8).items()})
        np.savez(out, **saved)
        return
    resume_from = None
    if "--resume-from" in rest:
        at = rest.index("--resume-from")
        resume_from, rest = int(rest[at + 1]), rest[:at] + rest[at + 2:]
    if problem_name in ("gaussian", "bounds"):
        loglike, prior = shifted_gaussian()
    else:
        lens = lens_problem("tiny")
        loglike, prior = lens.loglike, lens.prior
    kwargs = settings(problem_name)
    saved = {"refused_single_other_device": refusal([jax.devices()[1]]),
             "other_device": str(jax.devices()[1])}
    for devices in map(int, rest):
        result = slicens.run(loglike, prior, devices=devices, **kwargs)
        saved.update(fields(result, str(devices)))
        if resume_from is not None:
            path = f"{out}.{devices}.ckpt"
            slicens.run(loglike, prior, devices=resume_from, checkpoint=path,
                        **dict(kwargs, max_iterations=3))
            resumed = slicens.run(loglike, prior, devices=devices,
                                  checkpoint=path, **kwargs)
            saved.update(fields(resumed, f"resumed{devices}"))
    np.savez(out, **saved)


if __name__ == "__main__":
    main(sys.argv[1:])
