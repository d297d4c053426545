"""slicens.autofit.NSS against af.NSS (PyAutoFit's blackjax.nss search) on PyAutoFit's
canonical 1-d Gaussian example and on a model with a shared prior (two profiles, one
width: 6 model paths, 5 free priors): sampled dimension, logZ, evaluations, wall time,
same settings.

    python benchmarks/autofit_compare.py   # needs Python >= 3.12 and autofit >= 2026.10.26.1

Same n_live, num_delete, num_mcmc_steps and termination for both, float64, CPU.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PYAUTO_SKIP_WORKSPACE_VERSION_CHECK", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import _common  # noqa: E402
import autofit as af  # noqa: E402
import autofit_gaussian as example  # noqa: E402
from autonerves import conf  # noqa: E402

from slicens.autofit import NSS  # noqa: E402

SETTINGS = dict(n_live=200, num_delete=20, num_mcmc_steps=9, termination=-3.0, seed=1)


MODELS = {
    "1-d Gaussian": (example.make_model, example.simulate),
    "2 Gaussians, shared sigma": (example.make_shared_model, example.simulate_shared),
}


def fit(search, make_model, simulate):
    start = time.perf_counter()
    model = make_model()
    result = search.fit(model=model, analysis=example.Analysis(*simulate()))
    return model, result, time.perf_counter() - start


def main() -> None:
    print(_common.machine())
    print(f"autofit {af.__version__}; {SETTINGS}")
    print(f"{'model':<26} {'search':<20} {'dim':>4} {'paths':>5} {'logZ':>10} {'err':>7} "
          f"{'evaluations':>12} {'wall s':>8}")
    with tempfile.TemporaryDirectory() as folder:
        conf.instance.output_path = folder
        for model_name, (make_model, simulate) in MODELS.items():
            tag = model_name.split()[0].replace("-", "")
            for label, search in (
                    ("slicens.autofit.NSS", NSS(name=f"slicens{tag}", **SETTINGS)),
                    ("af.NSS (blackjax)", af.NSS(name=f"afnss{tag}", **SETTINGS))):
                model, result, wall = fit(search, make_model, simulate)
                info = result.samples.samples_info
                err = info.get("log_evidence_error")
                err = "n/a" if err is None else f"{err:.3f}"
                dim = result.samples.parameter_lists[0].__len__()
                print(f"{model_name:<26} {label:<20} {dim:>4} {len(model.paths):>5} "
                      f"{result.samples.log_evidence:10.3f} {err:>7} "
                      f"{info.get('total_samples')!s:>12} {wall:8.1f}", flush=True)


if __name__ == "__main__":
    main()
