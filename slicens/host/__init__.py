"""The host side of a run: everything around the core that decides, stores or reports.

``run`` (the entry point), ``finalise`` (the dead points into a ``Result``),
``settings`` (validation and defaults), ``compiled`` (the
compiled programs and out-of-memory recovery), ``memory`` (budgets, XLA's memory
analysis, the chunk that fits) and ``probe``, ``loop`` (dispatches between the host and
the device), ``checkpoint``, ``results``, ``modes`` (the posterior's modes from the dead
points), ``progress`` and ``platform`` (known jax/jaxlib hazards).
"""
