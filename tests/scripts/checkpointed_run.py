"""A checkpointed run for the kill-and-resume test:
``python checkpointed_run.py PATH [KILL_AT_WRITE [torn]]``.

Starts (or continues) the run of ``tests/test_checkpoint.py::SETTINGS`` with a checkpoint
written after every dispatch. With ``KILL_AT_WRITE = n`` the process SIGKILLs itself at
its n-th checkpoint write: just after the write is durable, or with ``torn`` halfway
through it (half the bytes appended, no fsync), so the test chooses where a kill lands
instead of racing a timer.
"""

import os
import signal
import sys

import jax

jax.config.update("jax_enable_x64", True)

import slicens  # noqa: E402
from slicens.host.checkpoint import Checkpoint  # noqa: E402
from slicens.problems.gaussians import gaussian  # noqa: E402

PROBLEM = gaussian(10)
SETTINGS = dict(n_live=300, num_delete=30, chunk_size=10, seed=5, checkpoint_every=0,
                likelihood_id="gaussian-10", progress=False)


def kill_at_write(n: int, torn: bool) -> None:
    """Make this process SIGKILL itself at its ``n``-th checkpoint write."""
    write, writes = Checkpoint._write, []

    def killing_write(self, records: bytes) -> None:
        writes.append(len(records))
        if len(writes) == n and torn:
            with open(self.path, "r+b") as file:
                file.seek(self._size)
                file.write(records[: len(records) // 2])
                file.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        write(self, records)
        if len(writes) == n:
            os.kill(os.getpid(), signal.SIGKILL)

    Checkpoint._write = killing_write


if __name__ == "__main__":
    if len(sys.argv) > 2:
        kill_at_write(int(sys.argv[2]), torn=sys.argv[3:] == ["torn"])
    slicens.run(PROBLEM.loglike, PROBLEM.prior, checkpoint=sys.argv[1], **SETTINGS)
