"""Validation of what users pass and the defaults slicens chooses, shared by ``run`` and
``probe_memory``. Every error names the offending value."""

from __future__ import annotations

import logging
import numbers
from collections.abc import Callable

import jax
import jax.numpy as jnp

from slicens.core import kernel
from slicens.core.chunking import SCHEDULES
from slicens.host.memory import parse_budget
from slicens.priors import as_prior

__all__ = ["default_num_inner_steps", "default_max_jumps", "default_max_clusters", "resolve",
           "resolve_devices", "check_int", "check_positive", "DEFAULT_N_LIVE",
           "DEFAULT_MAX_SHRINKAGE", "DEFAULT_DLOGZ", "DEFAULT_CHECKPOINT_EVERY"]

logger = logging.getLogger("slicens")

# Defaults of the run options, in one place for run, probe_memory and slicens.autofit.
DEFAULT_N_LIVE = 500
DEFAULT_MAX_SHRINKAGE = 100
DEFAULT_DLOGZ = 0.01
DEFAULT_CHECKPOINT_EVERY = 60.0


def default_num_inner_steps(dim: int) -> int:
    """Slice steps per replacement chain when the user gives none: ``max(5, 3 * dim)``.

    Too few steps leave a new point correlated with the survivor it started from, which
    biases logZ upward (blackjax documents this for ``dim`` steps when ``dim > 10``;
    PyAutoLens users measured +8 nats with 5 steps on a ~20-parameter model). blackjax
    recommends at least ``max(5, 2 * dim)``; slicens takes ``3 * dim`` for margin on
    correlated posteriors, where the evidence tests of this package pass at every seed.
    """
    return max(5, 3 * dim)


#: Initial bracket width of the slice steps under ``num_inner_steps='auto'``, in standard
#: deviations of the live points along the direction (2 with a fixed number of steps),
#: where by default the bracket does not step out (``max_expansions=1``). Stepping out
#: from a 2-sd bracket costs about 4.3 evaluations per slice step; a 6-sd bracket that
#: only shrinks costs about 1.9 and, per evaluation, decorrelates the chains faster
#: (measured, BENCHMARKS.md "Slice brackets"); 3 and 4 sd cost slightly less but left the
#: posterior of the correlated 10-d Gaussian visibly less mixed.
AUTO_BRACKET_WIDTH = 6.0
FIXED_BRACKET_WIDTH = 2.0


#: Intermediate points each chain keeps for the boosted posterior
#: (``result.posterior_samples(boost=True)``).
KEEP_PER_CHAIN = 2


def default_max_jumps(dim: int) -> int:
    """Ellipsoid jumps a chain may try under ``num_inner_steps='auto'``: ``max(4, dim)``.

    Under a prior of constant density a chain stops jumping at its first accepted jump,
    so this bounds what a poor ellipsoid (curved or multimodal contours) can waste: at
    most ``dim`` evaluations beside the ``3 * dim`` slice steps of about 1.9 evaluations
    each that then run. Other priors try every jump (see ``slice_mcmc.SlicePlan``);
    proposals outside the prior's support cost no evaluation either way.
    """
    return max(4, dim)


#: Most clusters (modes) the jump ellipsoids may split the live points into.
MAX_CLUSTERS = 32


def default_max_clusters(n_live: int, dim: int) -> int:
    """Clusters the jump ellipsoids may use under ``num_inner_steps='auto'``: one per
    ``2 (dim + 1)`` live points (about what a covariance needs), from 1 to
    :data:`MAX_CLUSTERS`. Each costs ``dim^2`` operations per jump proposal and per slice
    proposal (its region), and the clustering ``n_live^2 dim`` per iteration."""
    return max(1, min(MAX_CLUSTERS, n_live // (2 * (dim + 1))))


def check_int(name: str, value, minimum: int, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {name}={value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {name}={value}")


def check_bool(name: str, value) -> None:
    """``value`` must be True or False (not 0, 1 or None: a typo should not pass as a
    switch)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {name}={value!r}")


def _check_loglike(loglike: Callable, dim: int, dtype) -> None:
    if not callable(loglike):
        raise TypeError(f"loglike must be callable, got {loglike!r}")
    try:
        out = jax.eval_shape(loglike, jax.ShapeDtypeStruct((dim,), dtype))
    except Exception as exc:  # the user's function: report what failed and on what
        raise TypeError(
            f"loglike failed to trace on a parameter vector of shape ({dim},) and dtype "
            f"{jnp.dtype(dtype).name}: {type(exc).__name__}: {exc}"
        ) from exc
    shape = getattr(out, "shape", None)
    if shape != ():
        raise ValueError(f"loglike must return a scalar, got output shape {shape} ({out})")


def _check_prior(prior) -> tuple[int, object]:
    try:
        sample = jax.eval_shape(lambda k: prior.sample(k, 3), jax.random.key(0))
    except Exception as exc:
        raise TypeError(f"prior.sample(rng_key, n) failed: {type(exc).__name__}: {exc}") from exc
    if sample.shape != (3, prior.dim):
        raise ValueError(
            f"prior.sample(rng_key, 3) must return shape (3, {prior.dim}), got {sample.shape}"
        )
    if not jnp.issubdtype(sample.dtype, jnp.floating):
        raise TypeError(f"prior samples must be floating point, got dtype {sample.dtype}")
    try:
        point = jax.ShapeDtypeStruct((prior.dim,), sample.dtype)
        density = jax.eval_shape(prior.log_density, point)
    except Exception as exc:
        raise TypeError(f"prior.log_density(x) failed: {type(exc).__name__}: {exc}") from exc
    if density.shape != ():
        raise ValueError(f"prior.log_density must return a scalar, got shape {density.shape}")
    return prior.dim, sample.dtype


def _check_chunk(chunk_size, memory_budget) -> None:
    if memory_budget is not None:  # the form only; the size is read when compiling
        parse_budget(memory_budget, free=lambda: 1)
    if chunk_size == "auto" and not isinstance(chunk_size, bool):
        return
    if isinstance(chunk_size, str):
        raise ValueError(f"chunk_size must be a positive integer, None or 'auto', "
                         f"got chunk_size={chunk_size!r}")
    check_int("chunk_size", chunk_size, 1, allow_none=True)


def check_positive(name: str, value, *, allow_none: bool = False,
                   allow_zero: bool = False) -> None:
    if value is None and allow_none:
        return
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and (
        value >= 0 if allow_zero else value > 0)
    if not ok:
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a {kind} number, got {name}={value!r}")


def resolve_devices(devices) -> tuple:
    """The devices a run shards its lanes over, from ``run``'s ``devices`` argument.

    ``None``: every device of JAX's default backend (``jax.devices()``); an integer
    ``n``: the first ``n`` of them; a sequence of ``jax.Device``: those, in that order.
    One device gives the empty tuple: no sharding, the program a single device runs (on
    JAX's first device: a single other device is refused, by name). Under several JAX
    processes (``jax.distributed.initialize()``) ``jax.devices()`` lists every process's
    devices, and each process must drive at least one of those chosen.
    """
    available = jax.devices()
    if devices is None:
        chosen = tuple(available)
    elif isinstance(devices, numbers.Integral) and not isinstance(devices, bool):
        if not 1 <= devices <= len(available):
            raise ValueError(f"devices must be between 1 and the {len(available)} devices "
                             f"of the {jax.default_backend()!r} backend, got devices={devices}")
        chosen = tuple(available[:devices])
    elif isinstance(devices, (list, tuple)) and devices and all(
            isinstance(d, jax.Device) for d in devices):
        chosen = tuple(devices)
        if len(set(chosen)) < len(chosen):
            raise ValueError(f"devices must not repeat a device, got devices={list(devices)}")
        platforms = {d.platform for d in chosen}
        if len(platforms) > 1:
            raise ValueError(f"devices must be of one platform, got devices={list(devices)}")
    else:
        raise TypeError(f"devices must be None, a positive integer or a non-empty list of "
                        f"jax.Device, got devices={devices!r}")
    idle = sorted(set(range(jax.process_count())) - {d.process_index for d in chosen})
    if idle:  # a process none of whose devices run would wait for ever in the collectives
        raise ValueError(f"devices must include a device of each of the {jax.process_count()} "
                         f"JAX processes; process(es) {idle} drive none of "
                         f"devices={_named(devices)}")
    if len(chosen) == 1 and chosen[0] != available[0]:
        # The single-device programs run where JAX places them: on its first device.
        raise ValueError(f"devices names one device, {chosen[0]}, that is not JAX's first "
                         f"({available[0]}); pass it with another, or make it the first "
                         f"(CUDA_VISIBLE_DEVICES, jax.default_device), got "
                         f"devices={list(devices)}")
    return chosen if len(chosen) > 1 else ()


def _named(devices):
    return list(devices) if isinstance(devices, (list, tuple)) else devices


def resolve(loglike, prior, *, n_live, num_delete, num_inner_steps, chunk_size, memory_budget,
            schedule, max_expansions, max_shrinkage):
    """Check the likelihood, prior and kernel settings; fill in defaults.

    Returns ``(prior, settings, chunk, chosen)``: the prior as a prior object, the
    algorithm's settings, the chunk size asked for (``"auto"``, chosen when compiling, or
    a positive integer: ``None``, the whole batch, is ``n_live``, the largest batch a run
    evaluates) and the defaults chosen, each with its reason (also logged).
    """
    prior = as_prior(prior)
    dim, dtype = _check_prior(prior)
    _check_loglike(loglike, dim, dtype)
    check_int("n_live", n_live, 2)
    chosen = {}
    if num_delete is None:
        num_delete = max(1, n_live // 10)
        chosen["num_delete"] = f"n_live // 10 = {num_delete}"
    check_int("num_delete", num_delete, 1)
    if num_delete >= n_live:
        raise ValueError(
            f"num_delete must be < n_live, got num_delete={num_delete}, n_live={n_live}"
        )
    adaptive = num_inner_steps is None or (isinstance(num_inner_steps, str)
                                           and num_inner_steps == "auto")
    if adaptive:
        num_inner_steps = default_num_inner_steps(dim)
        chosen["num_inner_steps"] = (
            f"'auto': up to max(5, 3 * dim) = {num_inner_steps} slice steps for dim = {dim}, "
            f"down to a third as ellipsoid jumps succeed, after up to {default_max_jumps(dim)} "
            f"jumps from one ellipsoid around the live points, or one per cluster of them "
            f"(up to {default_max_clusters(n_live, dim)})")
    elif isinstance(num_inner_steps, str):
        raise ValueError(f"num_inner_steps must be a positive integer or 'auto', "
                         f"got num_inner_steps={num_inner_steps!r}")
    check_int("num_inner_steps", num_inner_steps, 1)
    _check_chunk(chunk_size, memory_budget)
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got schedule={schedule!r}")
    if max_expansions is None:
        max_expansions = 1 if adaptive else 10
        chosen["max_expansions"] = (
            f"1 (no stepping out: a bracket of {AUTO_BRACKET_WIDTH:g} live standard deviations "
            f"along the direction)"
            if adaptive else "10")
    check_int("max_expansions", max_expansions, 1)
    check_int("max_shrinkage", max_shrinkage, 1)
    for name, why in chosen.items():
        logger.info("slicens chose %s: %s", name, why)
    settings = kernel.Settings(
        n_live=n_live,
        num_delete=num_delete,
        num_inner_steps=num_inner_steps,
        max_expansions=max_expansions,
        max_shrinkage=max_shrinkage,
        max_jumps=default_max_jumps(dim) if adaptive else 0,
        adaptive=adaptive,
        jump_until_accepted=bool(getattr(prior, "constant_density", False)),
        bracket_width=AUTO_BRACKET_WIDTH if adaptive else FIXED_BRACKET_WIDTH,
        keep_per_chain=KEEP_PER_CHAIN,
        max_clusters=default_max_clusters(n_live, dim) if adaptive else 1,
    )
    chunk = n_live if chunk_size is None else chunk_size
    return prior, settings, chunk, chosen
