"""slicens.autofit.NSS against af.NSS (PyAutoFit's blackjax.nss search) on PyAutoFit's
canonical 1-d Gaussian example: logZ, evaluations, wall time, same settings.

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


def fit(search):
    data, noise_map = example.simulate()
    start = time.perf_counter()
    result = search.fit(model=example.make_model(), analysis=example.Analysis(data, noise_map))
    return result, time.perf_counter() - start


def main() -> None:
    print(_common.machine())
    print(f"autofit {af.__version__}; canonical 1-d Gaussian (100 pixels); {SETTINGS}")
    with tempfile.TemporaryDirectory() as folder:
        conf.instance.output_path = folder
        rows = []
        for label, search in (("slicens.autofit.NSS", NSS(name="slicens", **SETTINGS)),
                              ("af.NSS (blackjax)", af.NSS(name="afnss", **SETTINGS))):
            result, wall = fit(search)
            info = result.samples.samples_info
            rows.append((label, result.samples.log_evidence, info.get("log_evidence_error"),
                         info.get("total_samples"), wall))
    print(f"{'search':<22} {'logZ':>10} {'err':>7} {'evaluations':>12} {'wall s':>8}")
    for label, logZ, err, evals, wall in rows:
        err = "n/a" if err is None else f"{err:.3f}"
        print(f"{label:<22} {logZ:10.3f} {err:>7} {str(evals):>12} {wall:8.1f}")


if __name__ == "__main__":
    main()
