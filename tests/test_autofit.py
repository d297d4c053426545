"""The PyAutoFit backend fits PyAutoFit's canonical 1-d Gaussian example."""

import importlib.util
import os
from pathlib import Path

import pytest

os.environ.setdefault("PYAUTO_SKIP_WORKSPACE_VERSION_CHECK", "1")
import autofit as af  # noqa: E402 (an optional extra of slicens; `make test` installs it)

from slicens.autofit import NSS  # noqa: E402

EXAMPLE = Path(__file__).parents[1] / "examples" / "autofit_gaussian.py"
_spec = importlib.util.spec_from_file_location("autofit_gaussian", EXAMPLE)
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    from autonerves import conf

    folder = tmp_path_factory.mktemp("autofit")
    previous = conf.instance.output_path
    conf.instance.output_path = str(folder)  # keep PyAutoFit's output out of the repository
    try:
        return example.fit(name="test_fit"), folder
    finally:
        conf.instance.output_path = previous


def test_recovers_the_truth_within_errors(fitted):
    result, _ = fitted
    samples = result.samples
    lower, upper = samples.values_at_lower_sigma(3.0), samples.values_at_upper_sigma(3.0)
    for name, truth in example.TRUTH.items():
        assert getattr(lower, name) < truth < getattr(upper, name), name


def test_reports_evidence_and_writes_outputs(fitted):
    result, folder = fitted
    samples = result.samples
    assert samples.log_evidence == samples.samples_info["log_evidence"]
    assert 0 < samples.samples_info["log_evidence_error"] < 1
    assert samples.samples_info["total_samples"] > samples.samples_info["number_live_points"]
    outputs = list((folder / "test_fit").iterdir())
    assert any(p.suffix == ".zip" or (p / "model.results").exists() for p in outputs)


def test_needs_a_jax_analysis():
    data, noise_map = example.simulate()

    class NumpyAnalysis(example.Analysis):
        def __init__(self, data, noise_map):
            af.Analysis.__init__(self, use_jax=False)
            self.data, self.noise_map = data, noise_map

    search = NSS(n_live=20)
    with pytest.raises(ValueError, match="use_jax=True"):
        search._fit(example.make_model(), NumpyAnalysis(data, noise_map))


def test_backend_must_be_slicens():
    with pytest.raises(ValueError, match="backend='blackjax'"):
        NSS(backend="blackjax")
