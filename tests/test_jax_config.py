"""JAX's global configuration: slicens runs in float32 when float64 is off, and importing
any of its modules changes no configuration value (docs/design.md, invariant 5). Each in
a fresh process: this suite turns float64 on (conftest)."""

import json
import os
import subprocess
import sys

import pytest

FLOAT32_RUN = """
import json, jax
assert not jax.config.jax_enable_x64
import slicens
from slicens.priors import as_prior
from slicens.problems import gaussian
problem = gaussian(2)
prior = as_prior(problem.prior)
out = []
for seed in (0, 1):
    r = slicens.run(problem.loglike, prior, n_live=100, num_delete=10, seed=seed,
                    progress=False)
    out.append(dict(logZ=r.logZ, err=r.logZ_err, termination=r.termination,
                    result_dtype=str(r.positions.dtype)))
dtype = jax.eval_shape(lambda k: prior.sample(k, 1), jax.random.key(0)).dtype
print(json.dumps(dict(runs=out, truth=problem.logZ, dtype=str(dtype))))
"""

IMPORTS = """
import json, jax
before = dict(jax.config.values)
import slicens, slicens.cli, slicens.plots, slicens.problems, slicens.demo
import slicens.host.run, slicens.core.kernel
after = dict(jax.config.values)
print(json.dumps({k: [repr(before.get(k)), repr(after.get(k))] for k in set(before) | set(after)
                  if before.get(k) != after.get(k)}))
"""


def _python(code: str) -> dict:
    """Run ``code`` in a fresh Python with float64 off (other modules of the suite, such
    as autofit, may have set ``JAX_ENABLE_X64`` in this process's environment)."""
    env = dict(os.environ, JAX_ENABLE_X64="0")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=300, env=env)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(360)
def test_float32_run_with_x64_off():
    """The whole run in float32 (the prior draws, so the chains and the likelihood), the
    result converted to float64 on the host; logZ within 3 sigma at two seeds."""
    out = _python(FLOAT32_RUN)
    assert out["dtype"] == "float32"
    for run in out["runs"]:
        assert run["termination"] == "dlogz" and run["result_dtype"] == "float64"
        assert abs(run["logZ"] - out["truth"]) < 3 * run["err"], (run, out["truth"])


@pytest.mark.timeout(360)
def test_importing_slicens_changes_no_jax_config():
    assert _python(IMPORTS) == {}
