"""slicens: nested slice sampling for JAX likelihoods with bounded-memory particle batches.

Public API::

    result = slicens.run(loglike, prior, n_live=500, chunk_size=16)
    result.logZ, result.logZ_err, result.equal_weight_samples(1000)
    result.to_anesthetic()
"""

from slicens import priors
from slicens.chunking import lane_map
from slicens.compiled import MemoryProbe, probe_memory
from slicens.memory import compiled_memory, parse_budget
from slicens.priors import LogUniform, Normal, Uniform
from slicens.results import Result, load
from slicens.run import run
from slicens.settings import default_num_inner_steps

__version__ = "0.1.0"

__all__ = [
    "run",
    "Result",
    "load",
    "priors",
    "Uniform",
    "Normal",
    "LogUniform",
    "default_num_inner_steps",
    "lane_map",
    "compiled_memory",
    "probe_memory",
    "MemoryProbe",
    "parse_budget",
    "__version__",
]
