"""The slicens command line: commands work, user mistakes are one line and exit 2."""

import pytest

from slicens.cli import main

MODEL = '''
import jax.numpy as jnp
from slicens import Uniform

def loglike(x):
    return -0.5 * jnp.sum((x / 0.1) ** 2)

prior = [Uniform(-1.0, 1.0, name="a"), Uniform(-1.0, 1.0, name="b")]
settings = dict(n_live=40, num_delete=8, num_inner_steps=3, seed=2)
'''


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL)
    return str(path)


def test_probe_prints_the_table(model, capsys):
    assert main(["probe", model, "--budget", "1GB"]) == 0
    out = capsys.readouterr().out
    assert "per-lane bytes" in out and "<- chosen" in out
    assert "budget 1.00 GiB (memory_budget='1GB'): chunk_size=8" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["probe", "missing.py"], "model file 'missing.py' does not exist"),
        (["probe", "MODEL", "--budget", "2XB"], "memory_budget='2XB' is not a size"),
        (["probe", "MODEL", "--n-live", "1"], "n_live must be >= 2"),
    ],
)
def test_user_mistakes_are_one_line(model, capsys, argv, message):
    argv = [model if a == "MODEL" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_model_file_must_define_loglike_and_prior(tmp_path, capsys):
    path = tmp_path / "empty.py"
    path.write_text("x = 1\n")
    assert main(["probe", str(path)]) == 2
    assert "must define loglike and prior" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["probe"], ["run"], ["report"], ["demo"]])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(command + ["--help"])
    assert exit_.value.code == 0
    assert "usage: slicens" in capsys.readouterr().out


def test_run_then_report(model, tmp_path, capsys):
    output = tmp_path / "fit.npz"
    assert main(["run", model, "--output", str(output), "--quiet", "--x64"]) == 0
    out = capsys.readouterr().out
    assert "logZ = " in out and f"result saved to {output}" in out
    assert main(["run", model, "--output", str(output), "--quiet"]) == 2  # no overwrite
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert main(["report", str(output), "--outdir", str(tmp_path / "figs")]) == 0
    out = capsys.readouterr().out
    assert "insertion-order test" in out and "parameter" in out
    assert (tmp_path / "figs" / "fit_diagnostics.png").stat().st_size > 10_000
    assert (tmp_path / "figs" / "fit_corner.png").stat().st_size > 10_000


def test_run_reports_bad_settings_in_one_line(model, tmp_path, capsys):
    assert main(["run", model, "--output", str(tmp_path / "x.npz"), "--n-live", "5",
                 "--num-delete", "9"]) == 2
    err = capsys.readouterr().err
    assert "num_delete must be < n_live" in err and len(err.strip().splitlines()) == 1


def test_report_on_a_missing_file(capsys):
    assert main(["report", "nothing.npz"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_demo_at_tiny_scale(capsys):
    assert main(["demo", "--scale", "tiny", "--n-live", "24", "--num-delete", "6",
                 "--chunk-size", "3"]) == 0
    out = capsys.readouterr().out
    assert "lens problem 'tiny'" in out and "(mean-truth)/sd" in out


def test_probe_reports_a_device_that_cannot_compile(model, capsys, monkeypatch):
    """Out of memory while compiling every chunk size: a table saying nothing fits."""
    import jax

    import slicens.host.compiled

    def out_of_memory(program, chunk_size):
        raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: injected at compile time")

    monkeypatch.setattr(slicens.host.compiled, "_before_compile", out_of_memory)
    assert main(["probe", model, "--budget", "1GB"]) == 0
    out = capsys.readouterr().out
    assert "out of memory: compiling chunk_size 1, 2, 4, 8 ran out of device memory" in out
    assert "chunk_size=1 fits" in out and "<- chosen" not in out


BOUNDED_MODEL = '''
import jax.numpy as jnp
from slicens import Uniform

def loglike(x):
    return -0.5 * jnp.sum(((x - 0.3) / 0.5) ** 2)

prior = [Uniform(-3.0, 3.0, name="a"), Uniform(-3.0, 3.0, name="b")]
settings = dict(n_live=50, min_ess=200, refine=False, seed=1)
'''


def test_a_bounded_run_then_its_report(tmp_path, capsys):
    """``--method bounds``: the progress line shows the phase, bounds and ESS; the report
    names the estimator, prints both estimates and lists the bounds; its figures are the
    bounded ones."""
    path = tmp_path / "bounded.py"
    path.write_text(BOUNDED_MODEL)
    output = tmp_path / "fit.npz"
    assert main(["run", str(path), "--method", "bounds", "--output", str(output),
                 "--x64"]) == 0
    captured = capsys.readouterr()
    assert "estimate: importance weights of the sampling phase's" in captured.out
    last = captured.err.strip().splitlines()[-1]  # the display's final line
    assert last.startswith("slicens: sampling | batch") and " bounds | logZ " in last
    assert "| ESS " in last and " / 200 |" in last
    assert main(["report", str(output), "--outdir", str(tmp_path / "figs")]) == 0
    out = capsys.readouterr().out
    assert "slicens (bounds): logZ" in out and "insertion-order test" not in out
    assert "nested-sampling estimate beside it: logZ = " in out  # both estimates
    assert "log volume" in out and "evidence" in out and "parameter" in out
    assert (tmp_path / "figs" / "fit_diagnostics.png").stat().st_size > 10_000


def test_method_bounds_refuses_the_nested_sampling_settings_in_one_line(model, tmp_path,
                                                                         capsys):
    assert main(["run", model, "--method", "bounds", "--output", str(tmp_path / "x.npz"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "num_delete is an argument of method='slice'" in err
    assert len(err.strip().splitlines()) == 1
