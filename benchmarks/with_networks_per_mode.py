"""Run a benchmark script with networks per mode of Nautilus's size trained on mini-batches
(measured, not adopted: BENCHMARKS.md, "Bounded draws, seventh part"):

    python benchmarks/with_networks_per_mode.py benchmarks/bounded_runs.py lens --seeds 0 1 2

Sets ``bounded_record.NETWORKS_PER_MODE = True``, ``network.HIDDEN = (100, 50, 20)``,
``network.BATCH = 256`` and ``network.TRAIN_STEPS = 2000`` before the script runs (in this
process, before anything is compiled), then runs it with the remaining arguments.
"""

import os
import runpy
import sys

from slicens.core import network
from slicens.host import bounded_record

bounded_record.NETWORKS_PER_MODE = True
network.HIDDEN, network.BATCH, network.TRAIN_STEPS = (100, 50, 20), 256, 2000

if __name__ == "__main__":
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")
