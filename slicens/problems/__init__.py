"""Likelihoods with known answers, for tests, benchmarks and examples."""

from slicens.problems.gaussians import (
                                       GaussianProblem,
                                       correlated_gaussian,
                                       eggbox,
                                       gaussian,
                                       mixture,
                                       rosenbrock,
                                       shells,
                                       weighted_mixture,
)
from slicens.problems.lens import LensProblem, lens_problem

__all__ = [
    "GaussianProblem",
    "gaussian",
    "correlated_gaussian",
    "mixture",
    "weighted_mixture",
    "shells",
    "eggbox",
    "rosenbrock",
    "LensProblem",
    "lens_problem",
]
