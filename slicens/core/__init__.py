"""The algorithmic core: pure, jittable functions of arrays, no I/O, no host policy.

``slice_mcmc`` (one constrained slice chain), ``ellipsoids``, ``clusters`` and ``jumps``
(the bounds a chain jumps within), ``chunking`` (the lane scheduler: at most
``chunk_size`` particles per evaluation), ``kernel`` (one nested-sampling iteration),
``blocks`` (many iterations in one device program) and ``evidence`` (the evidence
arithmetic and mixing tests). Nothing here imports :mod:`slicens.host`.
"""
