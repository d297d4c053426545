"""Process resources over many runs: what one process running many fits keeps.

Slow (``make test-slow``); ``make test`` itself is the larger check: its single process
runs some hundred different likelihoods."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

#: Runs of different likelihoods in a fresh process (programs compiled by earlier tests
#: would otherwise fill the caches first, and evicting them frees mappings), printing
#: the process's memory mappings after each run.
SCRIPT = textwrap.dedent("""
    import json
    import jax.numpy as jnp
    import slicens
    from slicens.host import compiled
    from slicens.priors import Uniform

    def mappings():
        with open("/proc/self/maps") as maps:
            return sum(1 for _ in maps)

    counts = []
    for i in range(compiled.PROGRAMS_KEPT + 3):
        slicens.run(lambda x, c=0.01 * i: -0.5 * jnp.sum((x - c) ** 2) / 0.01,
                    [Uniform(-1, 1)], n_live=20, num_delete=2, num_inner_steps=1,
                    chunk_size=2, max_iterations=1, seed=i, progress=False)
        counts.append(mappings())
    print(json.dumps(dict(kept=compiled.PROGRAMS_KEPT, counts=counts)))
""")


@pytest.mark.slow  # ~45 s: eleven runs, each compiling its own programs
@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs Linux /proc")
def test_many_likelihoods_keep_memory_mappings_bounded():
    """Each compiled program holds hundreds of memory mappings and Linux allows 65,530
    per process: keeping 32 programs per cache let the test suite's process cross that,
    and XLA's next compilation crashed. Past ``PROGRAMS_KEPT`` runs of different
    likelihoods, a new run adds only what its traced (not compiled) program holds."""
    child = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                           timeout=600)
    assert child.returncode == 0, child.stderr[-2000:]
    measured = json.loads(child.stdout.strip().splitlines()[-1])
    kept, counts = measured["kept"], measured["counts"]
    per_run_while_filling = (counts[kept - 1] - counts[0]) / (kept - 1)
    per_run_once_full = (counts[-1] - counts[kept - 1]) / 3
    assert per_run_while_filling > 100, counts  # the measurement sees the programs
    assert per_run_once_full < per_run_while_filling / 3, counts
