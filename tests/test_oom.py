"""Out-of-memory recovery: halve the chunk, recompile, redo the dispatch; same result."""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import slicens
from slicens.problems.gaussians import gaussian

loop_module = importlib.import_module("slicens.host.loop")
compiled_module = importlib.import_module("slicens.host.compiled")
PROBLEM = gaussian(3)
SETTINGS = dict(n_live=60, num_delete=8, num_inner_steps=4, seed=11)


def loglike(x):
    """PROBLEM's likelihood in elementwise arithmetic. Its own ``precision @ r`` and
    ``jnp.sum`` compile differently at batch widths 2 and 8 on XLA:CPU (positions then
    differ by 7e-16; docs/design.md, "Chunk invariance"), and these tests compare runs
    recovered at one width with runs started at another, bit for bit."""
    r = (x - jnp.asarray(PROBLEM.mean)) / jnp.sqrt(jnp.asarray(np.diag(PROBLEM.cov)))
    return -0.5 * ((r[0] * r[0] + r[1] * r[1]) + r[2] * r[2])


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
def test_recovered_run_equals_run_with_smaller_chunk(monkeypatch, run_at, at_iteration):
    hook, fired = inject_once(at_iteration)
    monkeypatch.setattr(loop_module, "_before_dispatch", hook)
    recovered = slicens.run(loglike, PROBLEM.prior, chunk_size=8, **SETTINGS)
    monkeypatch.setattr(loop_module, "_before_dispatch", None)
    assert fired and fired[0][1] == 8
    assert recovered.memory["chunk_size"] == 4
    [event] = recovered.memory["history"]
    assert event["chunk_size"] == 4 and event["iteration"] == fired[0][0]
    assert event["stage"] == "running" and "RESOURCE_EXHAUSTED" in event["error"]
    assert_same_run(recovered, run_at(4))


def out_of_memory(*_):
    """A hook that always raises RESOURCE_EXHAUSTED."""
    raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: injected by the test")


@pytest.mark.parametrize("module, hook, stage", [(loop_module, "_before_dispatch", "running"),
                                                 (compiled_module, "_before_compile",
                                                  "compiling")])
def test_gives_up_at_chunk_one(monkeypatch, module, hook, stage):
    monkeypatch.setattr(module, hook, out_of_memory)
    with pytest.raises(RuntimeError, match=f"out of device memory {stage} .* chunk_size=1"):
        slicens.run(loglike, PROBLEM.prior, chunk_size=2, **SETTINGS)


def test_other_errors_are_not_retried(monkeypatch):
    def broken(iteration, chunk_size):
        raise jax.errors.JaxRuntimeError("INTERNAL: something else")

    monkeypatch.setattr(loop_module, "_before_dispatch", broken)
    with pytest.raises(jax.errors.JaxRuntimeError, match="INTERNAL"):
        slicens.run(loglike, PROBLEM.prior, chunk_size=4, **SETTINGS)


def test_no_history_without_errors(run_at):
    """Without the hooks (normal use) a run records no recovery and keeps its chunk."""
    assert loop_module._before_dispatch is None and compiled_module._before_compile is None
    out = run_at(4)
    assert out.memory["history"] == [] and out.memory["chunk_size"] == 4


# --- out of memory while compiling (XLA's GPU autotuner allocates as it compiles) ---------


def compile_fails(when):
    """A compile hook raising RESOURCE_EXHAUSTED for each ``(program, chunk)`` in ``when``
    the first time it is asked for; records what it raised for."""
    fired = []

    def hook(program, chunk_size):
        if (program, chunk_size) in when and (program, chunk_size) not in fired:
            fired.append((program, chunk_size))
            raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: injected at compile time")

    return hook, fired


@pytest.fixture(scope="module")
def run_at():
    """Reference runs started at each chunk size (shared by the tests below)."""
    runs = {}

    def get(chunk):
        if chunk not in runs:
            runs[chunk] = slicens.run(loglike, PROBLEM.prior, chunk_size=chunk,
                                      **SETTINGS)
        return runs[chunk]

    return get


@pytest.mark.parametrize("program", ["init", "block"])
def test_compile_error_at_start_recovers(monkeypatch, run_at, program):
    hook, fired = compile_fails({(program, 8)})
    monkeypatch.setattr(compiled_module, "_before_compile", hook)
    recovered = slicens.run(loglike, PROBLEM.prior, chunk_size=8, **SETTINGS)
    monkeypatch.setattr(compiled_module, "_before_compile", None)
    assert fired == [(program, 8)]
    [event] = recovered.memory["history"]
    assert (event["iteration"], event["stage"], event["chunk_size"]) == (0, "compiling", 4)
    assert "injected at compile time" in event["error"]
    assert recovered.memory["chunk_size"] == 4
    assert any(c.get("out_of_memory") for c in recovered.compilations)
    assert_same_run(recovered, run_at(4))


def test_compile_error_mid_run_after_a_dispatch_error(monkeypatch, run_at):
    """Mid-run: a dispatch runs out at iteration 5, then recompiling at the halved chunk
    runs out too: halved again, and the run equals one started at chunk 2."""
    dispatch_hook, dispatched = inject_once(5)
    compile_hook, compiled = compile_fails({("block", 4)})
    monkeypatch.setattr(loop_module, "_before_dispatch", dispatch_hook)
    monkeypatch.setattr(compiled_module, "_before_compile", compile_hook)
    recovered = slicens.run(loglike, PROBLEM.prior, chunk_size=8, **SETTINGS)
    monkeypatch.setattr(loop_module, "_before_dispatch", None)
    monkeypatch.setattr(compiled_module, "_before_compile", None)
    assert dispatched and compiled == [("block", 4)]
    stages = [(e["iteration"], e["stage"], e["chunk_size"]) for e in recovered.memory["history"]]
    assert stages == [(dispatched[0][0], "running", 4), (dispatched[0][0], "compiling", 2)]
    assert_same_run(recovered, run_at(2))


def test_auto_takes_a_chunk_below_what_cannot_compile(monkeypatch, run_at):
    """chunk_size='auto' where the whole batch (8) cannot be compiled: that size counts as
    not fitting, the line is fitted through 4 and 2, and the chunk stays below 8."""
    hook, fired = compile_fails({("block", 8), ("init", 8)})
    monkeypatch.setattr(compiled_module, "_before_compile", hook)
    auto = slicens.run(loglike, PROBLEM.prior, chunk_size="auto", **SETTINGS)
    monkeypatch.setattr(compiled_module, "_before_compile", None)
    assert auto.memory["measured"][8] is None and set(auto.memory["measured"]) == {8, 4, 2}
    assert auto.memory["chunk_size"] == 7 and auto.memory["history"] == []
    assert_same_run(auto, run_at(7))


def test_probe_reports_what_cannot_compile(monkeypatch):
    """The probe never crashes on out-of-memory: sizes that cannot compile do not fit."""
    def from_four(program, chunk_size):
        if chunk_size >= 4:
            raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: injected at compile time")

    monkeypatch.setattr(compiled_module, "_before_compile", from_four)
    kwargs = dict(n_live=60, num_delete=8, num_inner_steps=4, memory_budget="1GB")
    probe = slicens.probe_memory(loglike, PROBLEM.prior, **kwargs)
    assert probe.measured[8] is None and probe.measured[4] is None
    assert probe.measured[2] is not None and probe.measured[1] is not None
    assert probe.chosen == 3 and dict(probe.rows)[8] is None and dict(probe.rows)[4] is None
    table = probe.table()
    assert "out of memory: compiling chunk_size 4, 8 ran out of device memory" in table
    assert "chunk_size=3" in table

    monkeypatch.setattr(compiled_module, "_before_compile", out_of_memory)
    probe = slicens.probe_memory(loglike, PROBLEM.prior, **kwargs)
    assert probe.chosen is None and probe.model is None
    assert all(peak is None for _, peak in probe.rows)
    assert "none: not even chunk_size=1 fits" in probe.table()
