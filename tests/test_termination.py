"""Each termination criterion stops the run and is reported; progress displays."""

import io

import pytest

import slicens
from slicens.host.progress import Snapshot, make_display
from tests import shared

# the shared problem and settings: the programs compiled (and the converged run) are
# those of tests/test_analytic.py and tests/test_anesthetic.py
PROBLEM = shared.problem("gaussian_5d")
SEED = 0
SETTINGS = dict(shared.STANDARD, seed=SEED, progress=False)


def run(**kwargs):
    return slicens.run(PROBLEM.loglike, PROBLEM.prior, **dict(SETTINGS, **kwargs))


@pytest.fixture(scope="module")
def converged():
    return shared.converged("gaussian_5d", SEED)


def test_dlogz_is_the_default(converged):
    assert converged.termination == "dlogz"


def test_max_iterations(converged):
    result = run(max_iterations=7)
    assert result.termination == "max_iterations" and result.n_iterations == 7
    n_live, num_delete = SETTINGS["n_live"], SETTINGS["num_delete"]
    assert result.positions.shape == (7 * num_delete + n_live, PROBLEM.dim)


def test_max_evals_stops_within_one_iteration(converged):
    per_iteration = (converged.n_evals - SETTINGS["n_live"]) / converged.n_iterations
    result = run(max_evals=3000)
    assert result.termination == "max_evals"
    assert 3000 <= result.n_evals < 3000 + 3 * per_iteration
    assert result.n_iterations < converged.n_iterations


def test_min_ess(converged):
    result = run(min_ess=200)
    assert result.termination == "min_ess"
    assert result.ess >= 200
    assert result.n_iterations < converged.n_iterations


def test_max_time():
    result = run(max_time=1e-9)
    assert result.termination == "max_time" and result.n_iterations == 0


def test_criteria_combine_first_met_wins(converged):
    result = run(max_iterations=5, max_evals=10**9, min_ess=10**9, max_time=3600.0)
    assert result.termination == "max_iterations" and result.n_iterations == 5


@pytest.mark.parametrize("name, value", [("max_time", 0), ("max_time", -1.0),
                                         ("min_ess", 0), ("checkpoint_every", -1),
                                         ("progress", "bars"), ("resume", "yes")])
def test_bad_criteria_named(name, value):
    with pytest.raises(ValueError, match=f"{name}="):
        run(**{name: value})


def test_log_lines_when_not_a_terminal():
    stream = io.StringIO()
    display = make_display("auto", stream=stream)  # StringIO is not a terminal
    snapshot = Snapshot(12, 3456, -7.5, 0.2, 0.5, 0.01, 1000.0, 8, 3.0)
    display.update(snapshot)
    display.close()
    assert stream.getvalue().strip() == (
        "slicens: it 12 | 3,456 evals | logZ -7.500 +/- 0.200 | dlogz 0.5 > 0.01 | "
        "1,000 evals/s | chunk 8 | 3 s")


def test_progress_log_mode_reports_the_run(capsys):
    run(max_iterations=30, progress="log")
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("slicens: it ")
    assert lines[-1].startswith("slicens: it 30 |")


def test_silent_on_request(capsys):
    run(max_iterations=3, progress=False)
    assert capsys.readouterr().err == ""


def test_tqdm_bar(capsys):
    run(max_iterations=20, progress="tqdm")
    err = capsys.readouterr().err
    assert "slicens: 20 it" in err.replace("\r", "\n") and "logZ=" in err
