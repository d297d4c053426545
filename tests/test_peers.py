"""slicens and blackjax.nss agree on logZ within their combined errors: slicens at its
defaults (``num_inner_steps="auto"``: jumps, clusters, adapted steps) and at blackjax's
own fixed number of slice steps."""

import numpy as np
import pytest

import slicens
from slicens.priors import as_prior
from slicens.problems import gaussian
from tests import shared

from .blackjax_peer import run_blackjax_nss

#: blackjax.nss takes a fixed number of slice steps; 3 x dim, slicens's fixed default.
PEER_STEPS = 15


def _agree(ours, peer, seed):
    combined = np.hypot(ours.logZ_err, peer.logZ_err)
    assert abs(ours.logZ - peer.logZ) < 3 * combined, (seed, ours.logZ, peer.logZ, combined)


def _peer(loglike, prior, seed, **settings):
    return run_blackjax_nss(loglike, as_prior(prior), seed=seed, **settings)


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow),
                                  pytest.param(2, marks=pytest.mark.slow)])
def test_gaussian_5d_at_the_defaults_agrees_with_blackjax(seed):
    problem = shared.problem("gaussian_5d")
    ours = shared.converged("gaussian_5d", seed)  # slicens's defaults, n_live 200 (in this
    # file's own test process: in the shared group it lengthened the longest one)
    assert ours.settings["adaptive"]  # num_inner_steps="auto"
    _agree(ours, _peer(problem.loglike, problem.prior, seed, num_inner_steps=PEER_STEPS,
                       **shared.STANDARD), seed)


@pytest.mark.slow
def test_gaussian_5d_at_fixed_steps_agrees_with_blackjax():
    problem = gaussian(5)
    settings = dict(n_live=200, num_delete=20, num_inner_steps=PEER_STEPS)
    ours = slicens.run(problem.loglike, problem.prior, seed=0, progress=False, **settings)
    _agree(ours, _peer(problem.loglike, problem.prior, 0, **settings), 0)


@pytest.mark.slow  # 2 minutes on 2 cores: blackjax compiles its own lens program
def test_tiny_lens_agrees_with_blackjax(tiny_lens):
    settings = dict(n_live=50, num_delete=10, num_inner_steps=14)
    ours = slicens.run(tiny_lens.loglike, tiny_lens.prior, seed=0, progress=False, **settings)
    _agree(ours, _peer(tiny_lens.loglike, tiny_lens.prior, 0, **settings), 0)
