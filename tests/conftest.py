"""Strict JAX for the whole suite: float64, and no implicit rank promotion."""

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(scope="session")
def tiny_lens():
    from slicens.problems import lens_problem

    return lens_problem("tiny")
