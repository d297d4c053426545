"""The XLA:CPU deadlocks: jaxlib 0.10.x batched Cholesky (detected, avoided by our pins)
and jaxlib 0.11.2 batched FFTs (avoided by slicens's CPU compiler options)."""

import os
import subprocess
import sys
from pathlib import Path

import jaxlib
import pytest

import slicens
from slicens.host.platform import cholesky_deadlock_hazard, compiler_options

SCRIPT = Path(__file__).parent / "scripts" / "lens_many_chains.py"
FFT_SCRIPT = Path(__file__).parent / "scripts" / "fft_many_chains.py"


@pytest.mark.parametrize("version", ["0.10.0", "0.10.1", "0.10.2"])
def test_hazardous_versions_are_named(version):
    message = cholesky_deadlock_hazard(version, backend="cpu", cores=2)
    assert message is not None and version in message and "taskset" in message


@pytest.mark.parametrize(
    "version, backend, cores",
    [("0.9.2", "cpu", 2), ("0.11.2", "cpu", 16), ("0.10.2", "cpu", 1), ("0.10.2", "gpu", 8)],
)
def test_safe_environments_are_quiet(version, backend, cores):
    assert cholesky_deadlock_hazard(version, backend=backend, cores=cores) is None


def test_installed_jaxlib_is_outside_the_hazard():
    """The package's requirements must keep this environment off jaxlib 0.10.0-0.10.2."""
    assert cholesky_deadlock_hazard(jaxlib.__version__, backend="cpu", cores=2) is None


def test_run_warns_on_a_hazardous_jaxlib(monkeypatch, tmp_path):
    """``run`` itself warns on jaxlib 0.10.x on a multi-core CPU (the version and the
    core count stubbed; the run then stops at once on an existing checkpoint)."""
    from slicens.host import platform

    monkeypatch.setattr(jaxlib, "__version__", "0.10.1")
    monkeypatch.setattr(platform, "_usable_cores", lambda: 2)
    existing = tmp_path / "run.ckpt"
    existing.write_bytes(b"")
    with pytest.warns(RuntimeWarning, match="jaxlib 0.10.1 on a 2-core CPU can deadlock"):
        with pytest.raises(FileExistsError):
            slicens.run(lambda x: -x[0] ** 2, [slicens.Uniform(0, 1)], n_live=20,
                        checkpoint=existing, resume=False, progress=False)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("num_delete", [16, 32])
def test_lens_with_many_chains_completes_on_all_cores(num_delete):
    """16 and 32 vmapped slice chains over the lens likelihood finish (no deadlock).

    Run in a subprocess with its own timeout so that a deadlock fails this test with a
    message instead of hanging the suite. Uses every core the machine gives us.
    """
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(num_delete)],
        capture_output=True, text=True, timeout=240, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"3 iterations with num_delete={num_delete}" in proc.stdout


def test_cpu_programs_compile_without_eigen_threads():
    assert compiler_options("cpu") == {"xla_cpu_multi_thread_eigen": False}
    assert compiler_options("gpu") == {} and compiler_options("tpu") == {}


@pytest.mark.timeout(300)
def test_likelihood_with_batched_ffts_completes_on_all_cores():
    """Four independent batched FFT convolutions per evaluation, 10 lanes, every core:
    deadlocks jaxlib 0.11.2 unless slicens's compiler options are applied (measured:
    ``fft_many_chains.py unprotected`` times out there). In a subprocess with its own
    timeout, so that a deadlock fails this test instead of hanging the suite."""
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    proc = subprocess.run([sys.executable, str(FFT_SCRIPT)], capture_output=True, text=True,
                          timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "completed 4 iterations" in proc.stdout
