"""PyAutoFit's canonical example, fitted with slicens: a 1-d Gaussian profile (centre,
normalization, sigma) to noisy data, through ``slicens.autofit.NSS``.

    pip install "slicens[autofit]"
    python examples/autofit_gaussian.py

Prints the truth, the posterior median and 3-sigma interval of each parameter, and logZ.
"""

import jax

jax.config.update("jax_enable_x64", True)

import autofit as af  # noqa: E402
import numpy as np  # noqa: E402

from slicens.autofit import NSS  # noqa: E402

TRUTH = dict(centre=50.0, normalization=25.0, sigma=10.0)


class Gaussian:
    def __init__(self, centre=30.0, normalization=1.0, sigma=5.0):
        self.centre, self.normalization, self.sigma = centre, normalization, sigma

    def model_data_from(self, xvalues, xp=np):
        transformed = xvalues - self.centre
        return (self.normalization / (self.sigma * xp.sqrt(2.0 * xp.pi))
                * xp.exp(-0.5 * (transformed / self.sigma) ** 2))


class Analysis(af.Analysis):
    def __init__(self, data, noise_map):
        super().__init__(use_jax=True)
        self.data, self.noise_map = data, noise_map

    def log_likelihood_function(self, instance):
        xp = self._xp
        xvalues = xp.arange(self.data.shape[0])
        components = [instance] if hasattr(instance, "model_data_from") else list(instance)
        model_data = sum(c.model_data_from(xvalues, xp=xp) for c in components)
        residual = (self.data - model_data) / self.noise_map
        return -0.5 * (xp.sum(residual**2) + xp.sum(xp.log(2 * xp.pi * self.noise_map**2)))


def simulate(seed: int = 1, n: int = 100):
    rng = np.random.default_rng(seed)
    clean = Gaussian(**TRUTH).model_data_from(np.arange(n))
    noise_map = np.full(n, 0.05)
    return clean + rng.normal(0.0, noise_map), noise_map


#: Two profiles sharing one width: 6 model paths, 5 free priors.
TRUTH_SHARED = dict(centre_0=30.0, normalization_0=25.0, centre_1=70.0, normalization_1=15.0,
                    sigma=8.0)


def simulate_shared(seed: int = 2, n: int = 100):
    t = TRUTH_SHARED
    rng = np.random.default_rng(seed)
    clean = sum(Gaussian(t[f"centre_{i}"], t[f"normalization_{i}"], t["sigma"])
                .model_data_from(np.arange(n)) for i in (0, 1))
    noise_map = np.full(n, 0.1)
    return clean + rng.normal(0.0, noise_map), noise_map


def make_shared_model():
    """``af.Collection`` of two Gaussians whose ``sigma`` is one shared prior."""
    g0, g1 = af.Model(Gaussian), af.Model(Gaussian)
    g0.centre = af.UniformPrior(lower_limit=0.0, upper_limit=50.0)
    g1.centre = af.UniformPrior(lower_limit=50.0, upper_limit=100.0)
    for g in (g0, g1):
        g.normalization = af.UniformPrior(lower_limit=0.0, upper_limit=50.0)
    g0.sigma = af.UniformPrior(lower_limit=1.0, upper_limit=20.0)
    g1.sigma = g0.sigma
    return af.Collection(g0=g0, g1=g1)


def make_model():
    model = af.Model(Gaussian)
    model.centre = af.UniformPrior(lower_limit=0.0, upper_limit=100.0)
    model.normalization = af.LogUniformPrior(lower_limit=1e-2, upper_limit=1e2)
    model.sigma = af.UniformPrior(lower_limit=0.0, upper_limit=30.0)
    return model


def fit(name="slicens_gaussian", path_prefix=None, **search_kwargs):
    data, noise_map = simulate()
    search = NSS(name=name, path_prefix=path_prefix,
                 **dict(dict(n_live=200, num_delete=20, seed=0), **search_kwargs))
    return search.fit(model=make_model(), analysis=Analysis(data, noise_map))


if __name__ == "__main__":
    result = fit()
    samples = result.samples
    median = samples.median_pdf()
    lower, upper = samples.values_at_lower_sigma(3.0), samples.values_at_upper_sigma(3.0)
    for name, value in TRUTH.items():
        print(f"{name:>14}: truth {value:8.3f}  median {getattr(median, name):8.3f}  "
              f"3 sigma [{getattr(lower, name):8.3f}, {getattr(upper, name):8.3f}]")
    print(f"log evidence {samples.log_evidence:.3f}")
