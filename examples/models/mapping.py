"""A model file for the slicens CLI: the 20,000 x 1,000 mapping-matrix likelihood.

    slicens probe examples/models/mapping.py --budget 2GB --x64
"""

from slicens.problems.mapping import MAPPING_PRIOR, mapping_matrix_loglike

loglike = mapping_matrix_loglike(20_000, 1_000)
prior = MAPPING_PRIOR
settings = dict(n_live=64, num_delete=16, num_inner_steps=4)
