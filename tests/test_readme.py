"""README's Python examples run as written (in order, in one namespace, in a scratch
directory), and the quick start's evidence matches its analytic value."""

import re
from pathlib import Path

import matplotlib
import numpy as np

import slicens

matplotlib.use("Agg")

README = Path(__file__).parent.parent / "README.md"
#: Blocks that need what a test cannot build in a line: a PyAutoFit model and analysis
#: (tests/test_autofit.py runs slicens.autofit.NSS).
NEEDS_AUTOFIT = "from slicens.autofit import NSS"


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), re.MULTILINE | re.DOTALL)


def test_readme_examples_run(tmp_path, monkeypatch):
    blocks = python_blocks()
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    ran = 0
    for block in blocks:
        if NEEDS_AUTOFIT in block:
            continue
        exec(compile(block, str(README), "exec"), namespace)
        ran += 1
    assert ran == len(blocks) - 1
    result = namespace["result"]
    # the quick start: three N(0, 0.1) in [-1, 1]^3, logZ = -3 log 2
    assert abs(result.logZ + 3 * np.log(2)) < 3 * result.logZ_err
    assert (tmp_path / "fit.npz").exists() and (tmp_path / "diagnostics.png").exists()
    assert (tmp_path / "fit.ckpt").exists()
    bounded = namespace["bounded"]  # the bounded run: the same evidence
    assert abs(bounded.logZ + 3 * np.log(2)) < 3 * bounded.logZ_err
    assert isinstance(slicens.load(tmp_path / "bounded.npz"), slicens.BoundedResult)
    assert (tmp_path / "bounded_diagnostics.png").exists()
