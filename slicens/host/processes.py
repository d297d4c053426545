"""One run over several JAX processes (``jax.distributed.initialize()``): every process
runs the same host loop and the same compiled programs on its own devices; process 0
alone writes checkpoints and shows progress.

The processes must make the same host decisions (how many iterations a dispatch runs,
whether ``max_time`` has passed, the chunk size): their programs meet in collectives, so
one that decided otherwise would wait for ever. Decisions that depend on a clock or on
one machine's memory are therefore taken by process 0 (:func:`from_writer`) or agreed
on (:func:`least`); everything else the processes compute alike from the same values.
With one process each function is a no-op.
"""

from __future__ import annotations

import jax
import numpy as np

__all__ = ["several", "is_writer", "barrier", "from_writer", "gathered", "least",
           "local"]


def several() -> bool:
    """Whether the run spans several JAX processes."""
    return jax.process_count() > 1


def is_writer() -> bool:
    """Whether this process writes the run's files and progress (process 0)."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process has reached the barrier called ``name``."""
    if several():
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def from_writer(values) -> np.ndarray:
    """Process 0's ``values`` (integers) on every process."""
    values = np.asarray(values, dtype=np.int64)
    if not several():
        return values
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.broadcast_one_to_all(values))


def gathered(value: int) -> np.ndarray:
    """Every process's ``value`` (an integer), in process order."""
    if not several():
        return np.asarray([value], dtype=np.int64)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(np.int64(value))).reshape(-1)


def least(value: int) -> int:
    """The least of every process's ``value``."""
    return int(np.min(gathered(value)))


def local(devices: tuple) -> tuple:
    """The devices of ``devices`` that this process drives."""
    return tuple(d for d in devices if d.process_index == jax.process_index())
