"""Checkpoints: exact resume after SIGKILL or damage, refusal of other runs, reuse of a
finished run only when asked, continuation of a run stopped by a budget."""

import importlib.util
import logging
import signal
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import slicens
from slicens.host.checkpoint import CheckpointError

SCRIPT = Path(__file__).parent / "scripts" / "checkpointed_run.py"
_spec = importlib.util.spec_from_file_location("checkpointed_run", SCRIPT)
checkpointed_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checkpointed_run)
PROBLEM, SETTINGS = checkpointed_run.PROBLEM, checkpointed_run.SETTINGS


def run(path, **overrides):
    return slicens.run(PROBLEM.loglike, PROBLEM.prior, checkpoint=path,
                       **dict(SETTINGS, **overrides))


def assert_identical(a, b):
    for name in ("positions", "loglike", "loglike_birth", "n_live_at_death", "log_weights"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.logZ, a.logZ_err, a.ess) == (b.logZ, b.logZ_err, b.ess)
    for name in ("n_evals", "n_evals_physical", "lane_usage", "n_invalid", "n_failed_steps",
                 "n_iterations", "termination"):
        assert getattr(a, name) == getattr(b, name), name


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run and the size of its finished checkpoint."""
    path = tmp_path_factory.mktemp("reference") / "run.ckpt"
    result = run(path)
    return result, path.stat().st_size


def killed_at_write(path: Path, write: int, torn: bool = False) -> int:
    """Run the script on ``path``, killing itself (SIGKILL) at its ``write``-th checkpoint
    write, after it or (``torn``) halfway through it; the exit code."""
    argv = [sys.executable, str(SCRIPT), str(path), str(write)] + (["torn"] if torn else [])
    child = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    return child.returncode


@pytest.mark.timeout(900)
def test_resume_after_sigkill_and_truncation_is_exact(reference, tmp_path):
    """Killed at chosen checkpoint writes (the first, which holds the initialisation; then,
    resumed, mid-run, torn halfway through a write), then a truncated tail: the resumed
    run is identical. (Each kill is a process that imports and compiles: two, not more.)"""
    expected, final_size = reference
    path = tmp_path / "run.ckpt"
    killed_at_write(path, 1)
    sizes = [path.stat().st_size]
    killed_at_write(path, 3, torn=True)
    sizes.append(path.stat().st_size)
    assert sizes[0] < sizes[1] < final_size, (sizes, final_size)  # mid-run
    with open(path, "r+b") as file:  # and a torn last write
        file.truncate(path.stat().st_size - 7)
    assert_identical(run(path), expected)


def test_damaged_record_falls_back_to_an_earlier_snapshot(reference, tmp_path, caplog):
    expected, final_size = reference
    path = tmp_path / "run.ckpt"
    run(path, max_iterations=40)  # a partial run: stops by max_iterations
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # flip a byte in the middle
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="slicens"):
        resumed = run(path, resume=True)
    assert "checksum mismatch" in caplog.text
    assert_identical(resumed, expected)


def test_partial_run_continues_with_new_termination(reference, tmp_path, monkeypatch):
    expected, _ = reference
    path = tmp_path / "run.ckpt"
    first = run(path, max_iterations=20)
    assert first.termination == "max_iterations" and first.n_iterations == 20
    # a run stopped by a budget is unfinished: the same budget stops it again at once ...
    again = run(path, max_iterations=20)
    assert_identical(again, first)
    # ... and a larger one (here none) continues it to the uninterrupted run's end, with a
    # progress rate that counts only the evaluations of this call
    shown = []
    monkeypatch.setattr(sys.modules["slicens.host.run"], "make_display",
                        lambda progress: Recorder(shown))
    continued = run(path)
    assert_identical(continued, expected)
    last = shown[-1]
    assert last.n_evals == expected.n_evals
    assert last.evals_per_second * last.elapsed == pytest.approx(
        expected.n_evals - first.n_evals, rel=1e-9)


class Recorder:
    """A progress display that keeps every snapshot it is shown."""

    def __init__(self, shown):
        self.shown = shown

    def due(self):
        return True

    def update(self, snapshot):
        self.shown.append(snapshot)

    def close(self):
        pass


def test_finished_checkpoint_is_never_reused_silently(reference, tmp_path, caplog):
    expected, _ = reference
    path = tmp_path / "run.ckpt"
    run(path)
    with pytest.raises(FileExistsError, match="pass resume=True"):
        run(path)
    with pytest.raises(FileExistsError, match="resume=False"):
        run(path, resume=False)
    with caplog.at_level(logging.WARNING, logger="slicens"):
        stored = run(path, resume=True)
    assert "returning the finished run stored in" in caplog.text
    assert_identical(stored, expected)


@pytest.mark.parametrize(
    "change, listed",
    [
        (dict(n_live=200, num_delete=20), ["n_live: checkpoint has 300, this call has 200",
                                           "num_delete: checkpoint has 30"]),
        (dict(seed=6), ["seed: checkpoint has 5, this call has 6"]),
        (dict(likelihood_id="gaussian-10-v2"), ["likelihood_id: checkpoint has 'gaussian-10'"]),
        (dict(num_inner_steps=7), ["num_inner_steps: checkpoint has 'auto', this call has 7"]),
    ],
)
def test_mismatched_checkpoint_is_refused(tmp_path, change, listed):
    path = tmp_path / "run.ckpt"
    run(path, max_iterations=2)
    with pytest.raises(CheckpointError, match="belongs to a different run") as error:
        run(path, resume=True, **change)
    for line in listed:
        assert line in str(error.value)


def test_other_dimension_is_refused(tmp_path):
    path = tmp_path / "run.ckpt"
    run(path, max_iterations=2)
    other = slicens.problems.gaussians.gaussian(5)
    with pytest.raises(CheckpointError, match="dim: checkpoint has 10, this call has 5"):
        slicens.run(other.loglike, other.prior, checkpoint=path, resume=True,
                    **dict(SETTINGS, n_live=300))


def test_other_prior_or_dtype_is_refused(tmp_path):
    """A wider prior box, and the same box drawn in float32 (a (sample, log_density)
    pair), are other runs: each difference is named."""
    path = tmp_path / "run.ckpt"
    run(path, max_iterations=2)
    wider = [slicens.Uniform(-4.0, 4.0)] * PROBLEM.dim
    with pytest.raises(CheckpointError, match="prior: checkpoint has") as error:
        slicens.run(PROBLEM.loglike, wider, checkpoint=path, resume=True, **SETTINGS)
    assert "Uniform(low=-4.0" in str(error.value) and "dtype:" not in str(error.value)

    def sample(key, n):
        return jax.random.uniform(key, (n, PROBLEM.dim), jnp.float32, -3.0, 3.0)

    def log_density(x):
        return jnp.where(jnp.all(jnp.abs(x) <= 3.0), -PROBLEM.dim * jnp.log(6.0), -jnp.inf)

    with pytest.raises(CheckpointError,
                       match="dtype: checkpoint has 'float64', this call has 'float32'"):
        slicens.run(PROBLEM.loglike, (sample, log_density), checkpoint=path, resume=True,
                    **SETTINGS)


def test_a_checkpoint_some_processes_cannot_see_is_refused(tmp_path, monkeypatch):
    """Under several processes every one must see the checkpoint; here process 0 does and
    a second does not (the all-gather of ``path.exists()`` stubbed), so the run stops
    before either reads or writes it."""
    from slicens.host import run as run_module

    path = tmp_path / "run.ckpt"
    path.write_bytes(b"process 0's file")
    monkeypatch.setattr(run_module.processes, "gathered",
                        lambda value: np.array([value, not value]))
    with pytest.raises(CheckpointError, match=r"exists for processes \[0\] and not for the "
                                              r"others: put it on a filesystem every"):
        run(path)
    assert path.read_bytes() == b"process 0's file"


@pytest.mark.parametrize("damage", [b"not a checkpoint", b""])
def test_foreign_file_is_a_clear_error(tmp_path, damage):
    path = tmp_path / "run.ckpt"
    path.write_bytes(damage)
    with pytest.raises(CheckpointError, match="not a slicens checkpoint"):
        run(path)


def test_checkpoint_cost_does_not_grow_with_history(tmp_path):
    """Writes only append: together they add up to the file, so none rewrote history."""
    path = tmp_path / "run.ckpt"
    sizes = []
    original = slicens.host.checkpoint.Checkpoint._write

    def spy(self, records):
        sizes.append(len(records))
        return original(self, records)

    slicens.host.checkpoint.Checkpoint._write = spy
    try:
        result = run(path, checkpoint_every=0)
    finally:
        slicens.host.checkpoint.Checkpoint._write = original
    assert len(sizes) >= 3 and result.termination == "dlogz"
    header = len(slicens.host.checkpoint.MAGIC) + _header_size(path)
    assert sum(sizes) == path.stat().st_size - header


def _header_size(path: Path) -> int:
    data = path.read_bytes()
    import struct

    _, length, _ = struct.unpack_from("<cQI", data, len(slicens.host.checkpoint.MAGIC))
    return struct.calcsize("<cQI") + length


def test_device_memory_flat_over_the_run(monkeypatch):
    """Device-resident bytes do not grow while dead points stream to the host."""
    loop_module = importlib.import_module("slicens.host.loop")
    resident = []

    def measure(iteration, chunk_size):
        resident.append(sum(a.nbytes for a in jax.live_arrays()))

    monkeypatch.setattr(loop_module, "_before_dispatch", measure)
    result = slicens.run(PROBLEM.loglike, PROBLEM.prior,
                         **dict(SETTINGS, checkpoint_every=60))
    assert len(resident) >= 5
    dead_bytes = result.positions.nbytes
    assert dead_bytes > 500_000
    growth = max(resident[2:]) - resident[2]
    assert growth < 0.05 * dead_bytes, (resident, dead_bytes)


def test_resumed_run_compiles_no_initialisation(tmp_path):
    """A resumed run needs only the iteration block; each compilation is reported with
    its split into tracing, lowering and XLA time. (The resumed run gets a fresh
    likelihood function, so that its block does not come from the compilation cache.)"""
    path = tmp_path / "run.ckpt"
    run_with(PROBLEM.loglike, path, max_iterations=3)
    resumed = run_with(lambda x: PROBLEM.loglike(x), path, max_iterations=5)
    assert resumed.n_iterations == 5
    assert [c["program"] for c in resumed.compilations] == ["block"]
    record = resumed.compilations[0]
    assert record["purpose"] == "run" and record["chunk_size"] == SETTINGS["chunk_size"]
    assert min(record["trace"], record["lower"]) >= 0 and record["compile"] > 0
    assert record["trace"] + record["lower"] + record["compile"] <= resumed.compile_time


def run_with(loglike, path, **overrides):
    return slicens.run(loglike, PROBLEM.prior, checkpoint=path, **dict(SETTINGS, **overrides))


def test_rows_from_an_older_checkpoint_get_zero_clusters_and_rank_counts():
    """A checkpoint written before clusters and rank counts were recorded lacks
    ``n_clusters`` and ``rank_count``: its rows load with zeros there (0: not recorded;
    for the ranks, finalise then counts every survivor, as those runs ranked), not with
    an error."""
    from slicens.host import finalise, loop

    iterations, added = 7, ("n_clusters", "rank_count")
    rows = loop.rows_from_arrays({
        "inner_steps": np.full(iterations, 5, np.int32),
        **{name: np.zeros(iterations) for name in kernel_row_names() if name not in added},
        **{f"lanes.{name}": np.zeros(iterations, np.int64)
           for name in slicens.core.chunking.LaneStats._fields},
    })
    for name in added:
        np.testing.assert_array_equal(getattr(rows, name), np.zeros(iterations, np.int32))
    np.testing.assert_array_equal(rows.inner_steps, 5)
    counts = finalise._rank_counts([rows], dict(n_live=50, num_delete=5))
    np.testing.assert_array_equal(counts, np.full(iterations * 5, 46))


def kernel_row_names():
    from slicens.core import kernel

    return [name for name in kernel.StepInfo._fields if name not in ("lanes", "inner_steps")]


def test_state_from_an_older_checkpoint_has_not_split():
    """A snapshot written before ``NSState.split`` and ``cluster_wait`` existed resumes as
    a run that did not split and does not wait (its next iteration clusters where jumps
    miss), not with an error."""
    from slicens.core import kernel
    from slicens.host import loop

    added = ("split", "cluster_wait")
    fields = {name: np.zeros(()) for name in kernel.NSState._fields if name not in added}
    state = loop.state_from_arrays({f"state.{name}": value for name, value in fields.items()})
    assert state.split.dtype == bool and not bool(state.split)
    assert state.cluster_wait.dtype == np.int32 and int(state.cluster_wait) == 0
