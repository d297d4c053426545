"""Checkpoints of runs that draw from bounds (``method="bounds"``,
:mod:`slicens.host.bounded`): the whole state in one file, replaced atomically.

A bounded run's state is every evaluated point (unit cube, log-likelihood, source bound,
membership in each bound), the bounds (ellipsoid unions, their networks, counted volumes,
draws) and the loop's counters (:class:`slicens.host.bounded_record.Progress`). Every
random draw is keyed by the seed and a batch's or bound's index, so a run continued from
this state makes the same draws as one never stopped, and its result is the same bit for
bit.

Layout: ``MAGIC`` then a NumPy ``.npz`` (no pickles) holding the points, the bounds and a
JSON record (format version, the run's identity, the counters, and the termination once
finished). Unlike the append-only log of nested-sampling runs
(:mod:`slicens.host.checkpoint`), the file is rewritten whole: a new bound adds a
membership column to every earlier point, so history would be rewritten anyway. The write
goes to a temporary file that is fsynced and renamed over the old one
(:func:`slicens.host.checkpoint.write_atomically`): a crash leaves the previous state or
the new one, never a mix. A write costs ``O(points)`` (about 100 MB at 10^6 points in 10
dimensions), once every ``checkpoint_every`` seconds.
"""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from slicens.core.ellipsoids import Ellipsoids
from slicens.core.network import Network
from slicens.host import processes
from slicens.host.bounded_record import Bounds, Points, Progress
from slicens.host.checkpoint import BOUNDS_MAGIC as MAGIC
from slicens.host.checkpoint import MAGIC as SLICE_MAGIC
from slicens.host.checkpoint import (
    CheckpointError,
    exists_to_resume,
    refuse_another_run,
    refuse_finished,
    write_atomically,
)

__all__ = ["MAGIC", "FORMAT_VERSION", "Stored", "identity", "save", "load", "open_for_run"]

FORMAT_VERSION = 1


def identity(*, dim: int, dtype, n_live: int, n_batch: int, n_update: int, f_live: float,
             enlargement: float, refine: bool, split_bounds: bool, exploration: str,
             seed: int, likelihood_id: str, prior) -> dict[str, Any]:
    """What makes two bounded runs the same run: a resume must match every entry (the
    stopping rules ``min_ess``, ``max_evals``, ``max_time`` may change between calls)."""
    return dict(method="bounds", dim=dim, dtype=str(np.dtype(dtype)), n_live=n_live,
                n_batch=n_batch, n_update=n_update, f_live=f_live, enlargement=enlargement,
                refine=refine, split_bounds=split_bounds,
                exploration=exploration, seed=seed,
                likelihood_id=likelihood_id, prior=[repr(c) for c in prior.components])


@dataclass
class Stored:
    """What a bounded checkpoint holds."""

    identity: dict[str, Any]
    points: Points
    found: Bounds
    progress: Progress
    finished: dict[str, Any] | None  # the termination of a finished run, else None


def save(path: Path, identity_: dict, points: Points, found: Bounds, progress: Progress,
         finished: dict | None = None) -> None:
    """Replace ``path`` by the run's state, atomically."""
    n, k = points.n, len(found)
    arrays = dict(u=points.u[:n], loglike=points.loglike[:n], source=points.source[:n],
                  member=points.member[:n, :k])
    arrays.update(_bounds_arrays(found))
    record = dict(format=FORMAT_VERSION, identity=identity_,
                  progress=dataclasses.asdict(progress), finished=finished,
                  bounds=dict(log_volume=found.log_volume, log_volume_var=found.log_volume_var,
                              draws=found.draws, threshold=found.threshold,
                              refined=found.refined))
    arrays["record"] = np.frombuffer(json.dumps(record).encode(), np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_atomically(Path(path), lambda file: file.write(MAGIC + buffer.getvalue()))


def load(path: Path) -> Stored:
    """The state stored in ``path``; a clear error for a file that is not a bounded
    checkpoint of this format."""
    data = Path(path).read_bytes()
    if data.startswith(SLICE_MAGIC):
        raise CheckpointError(f"checkpoint {path} holds a method='slice' run (nested "
                              "sampling), not a method='bounds' one")
    if not data.startswith(MAGIC):
        raise CheckpointError(f"{path} is not a slicens checkpoint (no magic header)")
    try:
        with np.load(io.BytesIO(data[len(MAGIC):]), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:  # a copy cut short
        raise CheckpointError(f"checkpoint {path} cannot be read: {error}") from error
    record = json.loads(arrays.pop("record").tobytes())
    if record.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path} has format {record.get('format')!r}; this slicens "
                              f"reads format {FORMAT_VERSION}")
    points = Points(arrays["u"].shape[1])
    found = Bounds()
    for name, values in record["bounds"].items():
        setattr(found, name, list(values))
    found.unions = [None] + [_union(arrays, k) for k in range(1, len(found.log_volume))]
    found.refinements = [None] + [_network(arrays, k) for k in range(1, len(found.log_volume))]
    if arrays["u"].shape[0]:
        points.add(arrays["u"], arrays["loglike"], 0, arrays["member"])
        points.source[: points.n] = arrays["source"]
    return Stored(_current_identity(record["identity"]), points, found,
                  Progress(**record["progress"]), record["finished"])


def _current_identity(stored: dict) -> dict:
    """A stored identity in today's terms: checkpoints written before runs could reuse
    their exploration hold ``discard_exploration`` (True: ``exploration="discard"``,
    False: ``"every"``)."""
    if "discard_exploration" not in stored:
        return stored
    stored = dict(stored)
    stored["exploration"] = "discard" if stored.pop("discard_exploration") else "every"
    return stored


def open_for_run(path: Path, resume, identity_: dict) -> Stored | None:
    """The stored state to continue from, or None to start afresh, under ``resume``'s
    rules (as for nested-sampling runs: None continues an unfinished run and refuses a
    finished one, True also returns a finished one, False refuses any existing file).
    A checkpoint of another run is refused, listing the differences."""
    path = Path(path)
    if not exists_to_resume(path, resume):
        return None
    stored = load(path)
    refuse_another_run(path, stored.identity, identity_)
    refuse_finished(path, stored.finished is not None, resume)
    processes.barrier("slicens: checkpoint read")  # before process 0 rewrites it
    return stored


def _bounds_arrays(found: Bounds) -> dict[str, np.ndarray]:
    arrays = {}
    for k in range(1, len(found)):
        union = found.unions[k]
        for name in ("centre", "factor", "radius", "inverse"):
            arrays[f"b{k}.{name}"] = np.asarray(getattr(union, name))
        if union.split is not None:
            arrays[f"b{k}.split"] = np.asarray(union.split)
        net = found.refinements[k]
        if net is not None:
            for i, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
                arrays[f"b{k}.net.w{i}"], arrays[f"b{k}.net.b{i}"] = np.asarray(w), np.asarray(b)
            for name in ("centre", "inverse", "cut"):
                arrays[f"b{k}.net.{name}"] = np.asarray(getattr(net, name))
    return arrays


def _union(arrays, k: int) -> Ellipsoids:
    split = arrays.get(f"b{k}.split")
    return Ellipsoids(*(jnp.asarray(arrays[f"b{k}.{name}"])
                        for name in ("centre", "factor", "radius", "inverse")),
                      split=None if split is None else jnp.asarray(split))


def _network(arrays, k: int) -> Network | None:
    if f"b{k}.net.cut" not in arrays:
        return None
    layers = sum(1 for key in arrays if key.startswith(f"b{k}.net.w"))
    return Network(tuple(jnp.asarray(arrays[f"b{k}.net.w{i}"]) for i in range(layers)),
                   tuple(jnp.asarray(arrays[f"b{k}.net.b{i}"]) for i in range(layers)),
                   *(jnp.asarray(arrays[f"b{k}.net.{name}"])
                     for name in ("centre", "inverse", "cut")))
