"""A checkpointed run for the kill-and-resume test: ``python checkpointed_run.py PATH``.

Starts (or continues) the run of ``tests/test_checkpoint.py::SETTINGS`` with a checkpoint
written after every dispatch, so that a SIGKILL can land anywhere.
"""

import sys

import jax

jax.config.update("jax_enable_x64", True)

import slicens  # noqa: E402
from slicens.problems.gaussians import gaussian  # noqa: E402

PROBLEM = gaussian(10)
SETTINGS = dict(n_live=300, num_delete=30, chunk_size=10, seed=5, checkpoint_every=0,
                likelihood_id="gaussian-10", progress=False)

if __name__ == "__main__":
    slicens.run(PROBLEM.loglike, PROBLEM.prior, checkpoint=sys.argv[1], **SETTINGS)
