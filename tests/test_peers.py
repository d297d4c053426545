"""slicens and blackjax.nss agree on logZ within their combined errors."""

import numpy as np
import pytest

import slicens
from slicens.priors import as_prior
from slicens.problems import gaussian

from .blackjax_peer import run_blackjax_nss


def _compare(loglike, prior, *, n_live, num_delete, num_inner_steps, seeds):
    for seed in seeds:
        ours = slicens.run(loglike, prior, n_live=n_live, num_delete=num_delete,
                           num_inner_steps=num_inner_steps, seed=seed)
        peer = run_blackjax_nss(loglike, as_prior(prior), n_live=n_live,
                                num_delete=num_delete, num_inner_steps=num_inner_steps,
                                seed=seed)
        combined = np.hypot(ours.logZ_err, peer.logZ_err)
        assert abs(ours.logZ - peer.logZ) < 3 * combined, (seed, ours.logZ, peer.logZ, combined)


@pytest.mark.parametrize("seeds", [(0,), pytest.param((1, 2), marks=pytest.mark.slow)])
def test_gaussian_5d_agrees_with_blackjax(seeds):
    problem = gaussian(5)
    _compare(problem.loglike, problem.prior, n_live=200, num_delete=20, num_inner_steps=15,
             seeds=seeds)


@pytest.mark.slow  # 2 minutes on 2 cores: blackjax compiles its own lens program
def test_tiny_lens_agrees_with_blackjax(tiny_lens):
    _compare(tiny_lens.loglike, tiny_lens.prior, n_live=50, num_delete=10, num_inner_steps=14,
             seeds=(0,))
