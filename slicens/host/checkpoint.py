"""Checkpoint files: an append-only log of checksummed records.

Layout (all integers little-endian)::

    b"SLICENS-CHECKPOINT\\n"                         magic, 19 bytes
    record*                                         each: kind (1 byte), payload length
                                                    (8 bytes), CRC-32 of kind + payload
                                                    (4 bytes), payload

Record kinds:

- ``H`` header (JSON): format version and the run's identity (:func:`identity`). Written
  once, by creating the file under a temporary name, fsync and rename, so a checkpoint
  either has a header or does not exist.
- ``D`` dead points (NumPy ``.npz``): the iterations finished since the previous ``S``,
  stacked (:class:`slicens.core.kernel.StepInfo` rows).
- ``S`` snapshot (``.npz``): the live state and the host's running totals after those
  iterations. A resume continues from the last intact ``S``, with every ``D`` before it.
- ``F`` finished (JSON): the termination and timings; the file then holds a whole run.

History is never rewritten: a checkpoint appends one ``D`` and one ``S`` (the new dead
points and the small live state), then fsyncs, so its cost does not grow with the dead
points already written. A write cut short (a kill, a full disk) leaves a torn last record;
reading stops at the first record whose length or checksum is wrong, falls back to the
last intact snapshot, and the next append first truncates the file there.
"""

from __future__ import annotations

import io
import json
import logging
import os
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from slicens.host import processes

__all__ = ["CheckpointError", "Checkpoint", "Loaded", "identity", "likelihood_identity",
           "differences", "exists_to_resume", "refuse_another_run", "refuse_finished"]

logger = logging.getLogger("slicens")

MAGIC = b"SLICENS-CHECKPOINT\n"
#: The first line of a method="bounds" run's checkpoint (slicens.host.bounded_checkpoint).
BOUNDS_MAGIC = b"SLICENS-BOUNDS-CHECKPOINT\n"
FORMAT_VERSION = 1
_RECORD = struct.Struct("<cQI")  # kind, payload length, crc32


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, foreign, or from another run."""


def identity(*, dim, dtype, n_live, num_delete, num_inner_steps, max_expansions,
             max_shrinkage, seed, likelihood_id, prior) -> dict[str, Any]:
    """What makes two runs the same run: a resume must match every entry."""
    components = getattr(prior, "components", None)
    prior_id = ([repr(c) for c in components] if components is not None
                else f"{type(prior).__name__}(names={list(prior.names)})")
    return dict(dim=dim, dtype=str(np.dtype(dtype)), n_live=n_live, num_delete=num_delete,
                num_inner_steps=num_inner_steps, max_expansions=max_expansions,
                max_shrinkage=max_shrinkage, seed=seed, likelihood_id=likelihood_id,
                prior=prior_id)


def likelihood_identity(loglike, likelihood_id) -> str:
    """The likelihood's identity in a checkpoint: as declared (a string), else its
    function's module and qualified name."""
    if likelihood_id is None:
        return (f"{getattr(loglike, '__module__', '?')}."
                f"{getattr(loglike, '__qualname__', type(loglike).__name__)}")
    if not isinstance(likelihood_id, str):
        raise TypeError(f"likelihood_id must be a string, got likelihood_id={likelihood_id!r}")
    return likelihood_id


def differences(stored: dict, current: dict) -> list[str]:
    """Human-readable list of the entries where two identities differ."""
    return [f"{key}: checkpoint has {stored.get(key)!r}, this call has {current.get(key)!r}"
            for key in sorted(set(stored) | set(current)) if stored.get(key) != current.get(key)]


def exists_to_resume(path: Path, resume) -> bool:
    """Whether ``path`` holds a checkpoint to read, under ``resume``'s rules (both
    methods): every process looks (it must lie on a filesystem they all see; the gather
    is the barrier before process 0 creates it); no file is False (logged where
    ``resume=True`` expected one); a file with ``resume=False`` is refused."""
    seen = processes.gathered(path.exists())
    if len(set(seen)) > 1:
        raise CheckpointError(
            f"checkpoint {path} exists for processes {np.flatnonzero(seen).tolist()} and not "
            f"for the others: put it on a filesystem every process sees")
    if not seen[0]:
        if resume is True:
            logger.info("no checkpoint at %s yet: starting a new run", path)
        return False
    if resume is False:
        raise FileExistsError(f"checkpoint {path} exists and resume=False; remove it or pass "
                              "resume=None to continue an unfinished run")
    return True


def refuse_another_run(path: Path, stored: dict, current: dict) -> None:
    """A checkpoint whose identity differs from this run's is refused, listing how."""
    mismatch = differences(stored, current)
    if mismatch:
        raise CheckpointError(f"checkpoint {path} belongs to a different run:\n  "
                              + "\n  ".join(mismatch))


def refuse_finished(path: Path, finished: bool, resume) -> None:
    """A finished run is returned only where ``resume=True`` asks for it."""
    if finished and resume is not True:
        raise FileExistsError(f"checkpoint {path} holds a finished run; pass resume=True to "
                              "return its stored result, or remove the file to run again")


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _arrays(payload: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _record(kind: bytes, payload: bytes) -> bytes:
    return _RECORD.pack(kind, len(payload), zlib.crc32(kind + payload)) + payload


@dataclass
class Loaded:
    """What an intact prefix of a checkpoint holds."""

    header: dict[str, Any]
    dead: list[dict[str, np.ndarray]]  # D records up to the last snapshot
    snapshot: dict[str, np.ndarray] | None  # the last intact S, or None
    finished: dict[str, Any] | None  # the F record, or None
    good_size: int  # bytes up to the end of the last snapshot (or the header)
    damage: str | None  # why reading stopped early, if it did


def _read(path: Path) -> Loaded:
    data = path.read_bytes()
    if data.startswith(BOUNDS_MAGIC):
        raise CheckpointError(f"checkpoint {path} holds a method='bounds' run, not a "
                              "method='slice' one (nested sampling)")
    if not data.startswith(MAGIC):
        raise CheckpointError(f"{path} is not a slicens checkpoint (no magic header)")
    offset, records, damage = len(MAGIC), [], None
    while offset < len(data):
        if offset + _RECORD.size > len(data):
            damage = f"truncated record header at byte {offset}"
            break
        kind, length, crc = _RECORD.unpack_from(data, offset)
        start, end = offset + _RECORD.size, offset + _RECORD.size + length
        if end > len(data):
            damage = f"record at byte {offset} cut short ({len(data) - start} of {length} bytes)"
            break
        payload = data[start:end]
        if zlib.crc32(kind + payload) != crc or kind not in b"HDSF":
            damage = f"checksum mismatch in the record at byte {offset}"
            break
        records.append((kind, payload, end))
        offset = end
    if not records or records[0][0] != b"H":
        raise CheckpointError(f"{path} has no intact header record ({damage or 'empty'})")
    header = json.loads(records[0][1])
    if header.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path} has format {header.get('format')!r}; this slicens "
                              f"reads format {FORMAT_VERSION}")
    dead, pending, snapshot, finished, good_size = [], [], None, None, records[0][2]
    for kind, payload, end in records[1:]:
        if kind == b"D":
            pending.append(_arrays(payload))
        elif kind == b"S":
            dead.extend(pending)
            pending, snapshot, good_size = [], _arrays(payload), end
        elif kind == b"F" and snapshot is not None:
            finished, good_size = json.loads(payload), end
    if pending:  # dead points written without their snapshot: redone on resume
        damage = damage or "dead points after the last snapshot"
    return Loaded(header, dead, snapshot, finished, good_size, damage)


class Checkpoint:
    """An open checkpoint file: ``create`` or ``open``, then ``append`` and ``finish``."""

    def __init__(self, path: Path, good_size: int):
        self.path, self._size = Path(path), good_size
        self.seconds_writing = 0.0  # time spent in append/finish (for benchmarks)

    @classmethod
    def create(cls, path, identity_: dict) -> Checkpoint:
        """A new checkpoint holding only the header, created atomically."""
        path = Path(path)
        header = _record(b"H", json.dumps(dict(format=FORMAT_VERSION, identity=identity_),
                                          sort_keys=True).encode())
        write_atomically(path, lambda file: file.write(MAGIC + header))
        return cls(path, len(MAGIC) + len(header))

    @classmethod
    def open(cls, path) -> tuple[Checkpoint, Loaded]:
        loaded = _read(Path(path))
        return cls(path, loaded.good_size), loaded

    def append(self, dead: dict[str, np.ndarray] | None, snapshot: dict[str, np.ndarray]):
        """Append the dead points since the last snapshot and a new snapshot, durably."""
        records = b""
        if dead is not None:
            records += _record(b"D", _npz(dead))
        records += _record(b"S", _npz(snapshot))
        self._write(records)

    def finish(self, info: dict[str, Any]) -> None:
        self._write(_record(b"F", json.dumps(info, sort_keys=True).encode()))

    def _write(self, records: bytes) -> None:
        start = time.perf_counter()
        with open(self.path, "r+b") as file:
            file.truncate(self._size)  # drop a torn tail or orphaned dead points
            file.seek(self._size)
            file.write(records)
            file.flush()
            os.fsync(file.fileno())
        self._size += len(records)
        self.seconds_writing += time.perf_counter() - start


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Create or replace ``path`` whole or not at all: ``write(file)`` fills a temporary
    file beside it, which is fsynced and renamed over ``path`` (the rename fsynced too).
    A crash leaves the old file or the new one, never half of one."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as file:
        write(file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    _fsync_directory(path)


def _fsync_directory(path: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
