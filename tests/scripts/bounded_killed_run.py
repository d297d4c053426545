"""A bounded run killed at a checkpoint write, for tests/test_bounds.py:
``python bounded_killed_run.py PATH KILL_AT_WRITE [torn]``.

Starts (or continues) test_bounds's checkpointed run (seed 4, chunk 7, to 2,500
evaluations) with a checkpoint written after every batch, and SIGKILLs itself at its
``KILL_AT_WRITE``-th write: just after the write is durable, or with ``torn`` halfway
through writing the temporary file, before the rename, so the test chooses where a kill
lands instead of racing a timer.
"""

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2]))

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)  # as tests/conftest.py

from slicens.host import bounded_checkpoint  # noqa: E402
from tests.test_bounds import _machinery_run  # noqa: E402


def kill_at_write(n: int, torn: bool) -> None:
    """Make this process SIGKILL itself at its ``n``-th checkpoint write."""
    write, writes = bounded_checkpoint.write_atomically, []

    def killing_write(path, fill):
        writes.append(path)
        if len(writes) == n and torn:
            with open(path.with_name(path.name + ".tmp"), "wb") as file:
                fill(file)
                file.truncate(file.tell() // 2)
                file.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        write(path, fill)
        if len(writes) == n:
            os.kill(os.getpid(), signal.SIGKILL)

    bounded_checkpoint.write_atomically = killing_write


if __name__ == "__main__":
    if len(sys.argv) > 2:
        kill_at_write(int(sys.argv[2]), torn=sys.argv[3:] == ["torn"])
    _machinery_run(chunk_size=7, max_evals=2500, checkpoint=sys.argv[1], checkpoint_every=0)
