"""Lanes sharded over several devices (``run(devices=...)``): the same run bit for bit.

The runs happen in a subprocess that forces 4 virtual CPU devices
(tests/scripts/sharded_runs.py), so this process keeps its one device. Virtual devices
share the machine's cores: these tests show correctness, not speed
(benchmarks/multi_device.py measures throughput).
"""

import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import slicens
from slicens.core import chunking
from slicens.host.settings import resolve_devices

SCRIPT = Path(__file__).parent / "scripts" / "sharded_runs.py"


def sharded_runs(tmp_path, problem: str, *devices, resume_from=None) -> dict:
    out = tmp_path / f"{problem}.npz"
    argv = [sys.executable, str(SCRIPT), str(out), problem, *map(str, devices)]
    if resume_from is not None:
        argv += ["--resume-from", str(resume_from)]
    child = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert child.returncode == 0, child.stderr[-3000:]
    with np.load(out) as saved:
        return dict(saved)


def assert_identical(runs: dict, a: str, b: str):
    for field in ("positions", "loglike", "loglike_birth", "logZ", "logZ_err", "n_evals",
                  "n_iterations"):
        np.testing.assert_array_equal(runs[f"{a}.{field}"], runs[f"{b}.{field}"],
                                      err_msg=f"{field}: {a} vs {b}")


@pytest.mark.timeout(900)
def test_gaussian_identical_on_1_and_4_devices(tmp_path):
    """10 chains per iteration on 4 devices: 3, 3, 2 and 2 (padded) per device."""
    runs = sharded_runs(tmp_path, "gaussian", 1, 4)
    assert [int(runs[f"{d}.devices"]) for d in (1, 4)] == [1, 4]
    assert_identical(runs, "1", "4")
    # one device that is not JAX's first would silently run on the first: refused
    message = str(runs["refused_single_other_device"])
    assert f"devices names one device, {runs['other_device']}," in message, message


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_gaussian_on_2_devices_and_resumed_from_4_on_1_and_2(tmp_path):
    runs = sharded_runs(tmp_path, "gaussian", 1, 2, resume_from=4)
    assert_identical(runs, "1", "2")
    assert_identical(runs, "1", "resumed1")
    assert_identical(runs, "1", "resumed2")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_lens_on_1_2_and_4_devices_takes_the_same_path(tmp_path):
    """Same dead points, counts and logZ; log-likelihoods equal up to the last bits XLA's
    SPMD partitioner changes in the likelihood's compiled program (README, "Several
    devices")."""
    runs = sharded_runs(tmp_path, "lens", 1, 2, 4)
    for devices in ("2", "4"):
        for field in ("positions", "n_evals", "n_iterations"):
            np.testing.assert_array_equal(runs[f"1.{field}"], runs[f"{devices}.{field}"],
                                          err_msg=field)
        for field in ("loglike", "loglike_birth", "logZ"):
            np.testing.assert_allclose(runs[f"{devices}.{field}"], runs[f"1.{field}"],
                                       rtol=1e-12, atol=0, err_msg=field)


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
