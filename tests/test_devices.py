"""Lanes sharded over several devices (``run(devices=...)``) and over several JAX
processes (``jax.distributed``): the same run bit for bit.

The runs happen in subprocesses that force virtual CPU devices
(tests/scripts/sharded_runs.py: one process of 4; tests/scripts/process_runs.py: one
process of several, CPU collectives over gloo), so this process keeps its one device.
Virtual devices share the machine's cores: these tests show correctness, not speed
(benchmarks/multi_device.py measures throughput).
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import slicens
from slicens.core import chunking, kernel
from slicens.host.checkpoint import Checkpoint
from slicens.host.settings import resolve, resolve_devices
from slicens.problems import gaussian
from tests.scripts.device_problems import BOUNDED_FIELDS, FIELDS

SCRIPT = Path(__file__).parent / "scripts" / "sharded_runs.py"
PROCESS_SCRIPT = Path(__file__).parent / "scripts" / "process_runs.py"
EXAMPLE = Path(__file__).parents[1] / "examples" / "multi_process.py"


def sharded_runs(tmp_path, problem: str, *devices, resume_from=None) -> dict:
    out = tmp_path / f"{problem}.npz"
    argv = [sys.executable, str(SCRIPT), str(out), problem, *map(str, devices)]
    if resume_from is not None:
        argv += ["--resume-from", str(resume_from)]
    child = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert child.returncode == 0, child.stderr[-3000:]
    with np.load(out) as saved:
        return dict(saved)


def run_of(runs: dict, prefix: str) -> dict:
    """The fields of the run ``sharded_runs`` saved under ``prefix``."""
    return {field: runs[f"{prefix}.{field}"] for field in FIELDS}


def assert_identical(a: dict, b: dict, what: str):
    for field in FIELDS:
        np.testing.assert_array_equal(a[field], b[field], err_msg=f"{field}: {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_processes(out: Path, n_processes: int, devices: int, checkpoint: Path,
                    **overrides) -> list:
    """Start the ``n_processes`` processes of one run (``jax.distributed`` when more than
    one; ``devices`` CPU devices each) of tests/scripts/process_runs.py; ``overrides``
    are settings of ``run``."""
    port = free_port()
    tail = [f"{name}={value}" for name, value in overrides.items()]
    return [subprocess.Popen([sys.executable, str(PROCESS_SCRIPT), str(out), str(p),
                              str(n_processes), str(port), str(devices), str(checkpoint), *tail],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for p in range(n_processes)]


def waited(children: list) -> list[str]:
    """Each process's output, once all have exited successfully (all are killed if one
    hangs)."""
    try:
        logs = [child.communicate(timeout=600)[0] for child in children]
    finally:
        for child in children:
            child.kill()
    for child, log in zip(children, logs, strict=True):
        assert child.returncode == 0, log[-3000:]
    return logs


def finished(children: list, out: Path) -> list[dict]:
    """Each process's saved result, once all have exited."""
    waited(children)
    results = []
    for p in range(len(children)):
        with np.load(f"{out}.{p}.npz") as saved:
            results.append(dict(saved))
    return results


@pytest.mark.timeout(900)
def test_gaussian_identical_on_1_and_4_devices_and_on_2_processes(tmp_path):
    """10 chains per iteration on 4 devices: 3, 3, 2 and 2 (padded) per device; and the
    same run by two processes (jax.distributed, one device each), of which only process 0
    writes the checkpoint. The Gaussian divides an array it closes over by a constant
    (device_problems.py): without chunking._constants_inlined, XLA rounds that
    differently on 4 devices and the log-likelihoods differ."""
    pair = start_processes(tmp_path / "pair", 2, 1, tmp_path / "pair.ckpt")  # meanwhile:
    runs = sharded_runs(tmp_path, "gaussian", 1, 4)
    assert [int(runs[f"{d}.devices"]) for d in (1, 4)] == [1, 4]
    assert_identical(run_of(runs, "1"), run_of(runs, "4"), "1 vs 4 devices")
    # one device that is not JAX's first would silently run on the first: refused
    message = str(runs["refused_single_other_device"])
    assert f"devices names one device, {runs['other_device']}," in message, message

    first, second = finished(pair, tmp_path / "pair")
    assert int(first["devices"]) == int(second["devices"]) == 2
    single = run_of(runs, "1")
    assert_identical(single, first, "process 0 of 2")
    assert_identical(single, second, "process 1 of 2")
    assert int(first["writes"]) >= 3 and int(second["writes"]) == 0  # create, append, finish
    _, stored = Checkpoint.open(tmp_path / "pair.ckpt")
    assert stored.finished["counts"]["n_evals"] == int(single["n_evals"])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_bounded_run_is_identical_on_1_and_4_devices(tmp_path):
    """10 draws per batch on 4 devices at 2 lanes each: 3, 3, 2 and 2 (padded)."""
    runs = sharded_runs(tmp_path, "bounds", 1, 4)
    assert [int(runs[f"{d}.devices"]) for d in (1, 4)] == [1, 4]
    assert int(runs["1.n_evals"]) > 700 and int(runs["1.n_bounds"]) > 3  # drawn in lanes
    for field in BOUNDED_FIELDS:
        np.testing.assert_array_equal(runs[f"1.{field}"], runs[f"4.{field}"], err_msg=field)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_gaussian_on_2_devices_and_resumed_from_4_on_1_and_2(tmp_path):
    runs = sharded_runs(tmp_path, "gaussian", 1, 2, resume_from=4)
    for other in ("2", "resumed1", "resumed2"):
        assert_identical(run_of(runs, "1"), run_of(runs, other), f"1 vs {other}")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_lens_identical_on_1_2_and_4_devices(tmp_path):
    """The tiny (dense) lens closes over its data and divides it by a constant
    (``data / noise**2``): identical only because shard_lanes keeps such arrays
    constants in each device's program (chunking._constants_inlined)."""
    runs = sharded_runs(tmp_path, "lens", 1, 2, 4)
    for devices in ("2", "4"):
        assert_identical(run_of(runs, "1"), run_of(runs, devices), f"1 vs {devices} devices")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_each_device_compiles_the_memory_of_its_own_lanes(tmp_path):
    """At 2 lanes per device, each device's compiled working set is one device's at 2
    lanes (within 10%), far below one device running all 8 lanes of 4 devices."""
    temps = sharded_runs(tmp_path, "memory", 1, 2, 4)
    for program in ("init", "block"):
        one = temps[f"1.{program}_temp"]
        for devices in (2, 4):
            assert abs(temps[f"{devices}.{program}_temp"] - one) <= 0.1 * one, temps
        assert temps[f"one_device_1.{program}_temp"] > 3 * one, temps


def test_a_devices_share_of_chains_alone_gives_the_same_chains(monkeypatch):
    """An iteration's 10 chains in one lane_map, and dealt as two devices deal them (jobs
    0, 2, ... and 1, 3, ...) to two lane_maps of 5, at 5 lanes: the same chains bit for
    bit. In this process, on one device: what sharding changes inside a device is its
    lane_map's job count, and XLA compiled the chains' multiply-adds differently for 10
    jobs and for 5 (jax 0.11.2 on AVX-512, before slice_mcmc._multiply_add)."""
    problem = gaussian(5)
    prior, settings, _, _ = resolve(
        problem.loglike, problem.prior, n_live=40, num_delete=10, num_inner_steps=None,
        chunk_size=5, memory_budget=None, schedule="lanes", max_expansions=None,
        max_shrinkage=100)
    lanes = chunking.Execution(5, "lanes", ())
    state, _ = jax.jit(lambda key: kernel.init(key, problem.loglike, prior, settings, lanes))(
        jax.random.key(3))

    def stepped():
        return jax.jit(lambda key: kernel.step(key, state, problem.loglike, prior, settings,
                                               lanes))(jax.random.key(4))[0]

    together = stepped()

    def dealt_to_two(item, evaluate, jobs, execution):
        def share(device):  # jobs device, device + 2, ...
            return jax.tree.map(lambda a: a[device::2], jobs)

        (first, stats), (second, _) = (chunking.lane_map(item, evaluate, share(device),
                                                         execution.chunk_size)
                                       for device in (0, 1))
        return jax.tree.map(lambda a, b: jnp.stack([a, b], 1).reshape((-1,) + a.shape[1:]),
                            first, second), stats  # job j back in place j

    monkeypatch.setattr(kernel, "_schedule", dealt_to_two)
    apart = stepped()
    for field in ("positions", "loglike", "logprior"):
        np.testing.assert_array_equal(getattr(together, field), getattr(apart, field),
                                      err_msg=field)


def test_one_device_compiles_the_single_device_program():
    assert resolve_devices(None) == () == resolve_devices(1)  # this process has one
    assert chunking.Execution(4).devices == ()


@pytest.mark.parametrize("devices, error", [
    (0, ValueError), (2, ValueError), (True, TypeError), ([], TypeError), ("gpu", TypeError),
    ([jax.devices()[0]] * 2, ValueError)])
def test_bad_devices_are_named(devices, error):
    with pytest.raises(error, match="devices"):
        resolve_devices(devices)
    with pytest.raises(error, match="devices"):
        slicens.run(lambda x: -x[0] ** 2, [slicens.Uniform(0, 1)], devices=devices)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_run_continues_on_another_number_of_processes_and_devices(tmp_path):
    """2 processes of 2 devices stop at ``max_time`` (process 0's clock decides for both)
    and one process of one device finishes; one process stops at iteration 3 and 2
    processes of one device finish, choosing ``chunk_size="auto"`` together: both are
    the uninterrupted run at the same lanes per device (5 for the second: auto's chunk,
    capped at the 5 chains each device gets; at another width a likelihood's own
    reductions may round differently: docs/design.md, "Chunk invariance")."""
    uninterrupted = {chunk: start_processes(tmp_path / f"ref{chunk}", 1, 1,
                                            tmp_path / f"ref{chunk}.ckpt", chunk_size=chunk)
                     for chunk in (2, 5)}
    reference = {chunk: finished(children, tmp_path / f"ref{chunk}")[0]
                 for chunk, children in uninterrupted.items()}
    cases = (("two_to_one", 2, 2, dict(max_time=0.1), 1, {}, 2),
             ("one_to_two", 1, 1, dict(max_iterations=3, chunk_size=5), 2,
              dict(chunk_size="auto"), 5))
    for name, before, devices, stop, after, finish, lanes in cases:
        checkpoint = tmp_path / f"{name}.ckpt"
        stopped = finished(start_processes(tmp_path / f"{name}_a", before, devices,
                                           checkpoint, **stop), tmp_path / f"{name}_a")
        assert {str(r["termination"]) for r in stopped} == set(stop) - {"chunk_size"}, name
        assert len({int(r["n_iterations"]) for r in stopped}) == 1, name  # the same stop
        assert int(stopped[0]["n_iterations"]) < int(reference[lanes]["n_iterations"]), name
        resumed = finished(start_processes(tmp_path / f"{name}_b", after, 1, checkpoint,
                                           **finish), tmp_path / f"{name}_b")
        assert {int(r["chunk_size"]) for r in resumed} == {lanes}, name
        for result in resumed:
            assert_identical(reference[lanes], result, name)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_multi_process_example_runs_as_its_docstring_says(tmp_path):
    port, env = free_port(), dict(os.environ,
                                  XLA_FLAGS="--xla_force_host_platform_device_count=2")
    children = [subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--coordinator", f"127.0.0.1:{port}",
         "--num-processes", "2", "--process-id", str(p), "--scale", "tiny", "--n-live", "40",
         "--max-iterations", "2", "--out", str(tmp_path / "multi")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        for p in range(2)]
    first, second = waited(children)
    assert "2 processes, 4 devices" in first and "logZ =" in first, first[-2000:]
    assert "logZ =" not in second, second[-2000:]  # process 0 alone reports and writes
    result = slicens.load(tmp_path / "multi.npz")
    assert result.n_iterations == 2 and result.termination == "max_iterations"
