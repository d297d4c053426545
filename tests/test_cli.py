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


@pytest.mark.parametrize("command", [[], ["probe"]])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(command + ["--help"])
    assert exit_.value.code == 0
    assert "usage: slicens" in capsys.readouterr().out
