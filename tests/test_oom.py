"""Out-of-memory recovery: halve the chunk, recompile, redo the dispatch; same result."""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import slicens
from slicens.problems.gaussians import gaussian

loop_module = importlib.import_module("slicens.loop")
PROBLEM = gaussian(3)
SETTINGS = dict(n_live=60, num_delete=8, num_inner_steps=4, seed=11)


def inject_once(at_iteration):
    """A hook raising RESOURCE_EXHAUSTED at the first dispatch from ``at_iteration`` on."""
    fired = []

    def hook(iteration, chunk_size):
        if iteration >= at_iteration and not fired:
            fired.append((iteration, chunk_size))
            raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: injected by the test")

    return hook, fired


def assert_same_run(a, b):
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.loglike, b.loglike)
    np.testing.assert_array_equal(a.loglike_birth, b.loglike_birth)
    assert a.logZ == b.logZ and a.logZ_err == b.logZ_err
    assert (a.n_evals, a.n_iterations, a.termination) == (b.n_evals, b.n_iterations,
                                                           b.termination)


@pytest.mark.parametrize("at_iteration", [0, 5])
def test_recovered_run_equals_run_with_smaller_chunk(monkeypatch, at_iteration):
    hook, fired = inject_once(at_iteration)
    monkeypatch.setattr(loop_module, "_before_dispatch", hook)
    recovered = slicens.run(PROBLEM.loglike, PROBLEM.prior, chunk_size=8, **SETTINGS)
    monkeypatch.setattr(loop_module, "_before_dispatch", None)
    assert fired and fired[0][1] == 8
    assert recovered.memory["chunk_size"] == 4
    [event] = recovered.memory["history"]
    assert event["chunk_size"] == 4 and event["iteration"] == fired[0][0]
    assert "RESOURCE_EXHAUSTED" in event["error"]
    smaller = slicens.run(PROBLEM.loglike, PROBLEM.prior, chunk_size=4, **SETTINGS)
    assert_same_run(recovered, smaller)


def test_gives_up_at_chunk_one(monkeypatch):
    def always(iteration, chunk_size):
        raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: injected by the test")

    monkeypatch.setattr(loop_module, "_before_dispatch", always)
    with pytest.raises(RuntimeError, match="out of device memory .* chunk_size=1"):
        slicens.run(PROBLEM.loglike, PROBLEM.prior, chunk_size=2, **SETTINGS)


def test_other_errors_are_not_retried(monkeypatch):
    def broken(iteration, chunk_size):
        raise jax.errors.JaxRuntimeError("INTERNAL: something else")

    monkeypatch.setattr(loop_module, "_before_dispatch", broken)
    with pytest.raises(jax.errors.JaxRuntimeError, match="INTERNAL"):
        slicens.run(PROBLEM.loglike, PROBLEM.prior, chunk_size=4, **SETTINGS)


def test_no_history_without_errors():
    """Without the hook (normal use) a run records no recovery and keeps its chunk."""
    assert loop_module._before_dispatch is None
    out = slicens.run(lambda x: -jnp.sum(x**2), [slicens.Uniform(-1, 1)] * 2, n_live=20,
                      num_delete=4, max_iterations=3)
    assert out.memory["history"] == [] and out.memory["chunk_size"] == 4
