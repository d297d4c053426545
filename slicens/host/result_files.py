"""Result files: one ``.npz`` per result, its arrays plus a JSON ``metadata`` entry with
every other field, written atomically. :func:`slicens.load` reads either kind of result
(:class:`slicens.Result`, :class:`slicens.BoundedResult`) from the ``method`` the metadata
names (files written before bounded results had none: nested sampling), from one
opening of the file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from slicens.host.checkpoint import write_atomically

__all__ = ["FILE_FORMAT", "write", "read", "select", "jsonable"]

#: Version of the file format written by ``save``.
FILE_FORMAT = 1


def write(path, arrays: dict, metadata: dict, overwrite: bool) -> Path:
    """Write ``arrays`` and ``metadata`` to ``path``, refusing an existing file unless
    ``overwrite``; under a temporary name renamed at the end, never half-written."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    metadata = dict(metadata, file_format=FILE_FORMAT)
    write_atomically(path, lambda file: np.savez(
        file, metadata=np.array(json.dumps(jsonable(metadata))), **arrays))
    return path


def read(path) -> tuple[dict, dict]:
    """``(arrays, metadata)`` of a result file, opened once: every array it holds, and
    the metadata without its format (whose ``method`` says which kind of result)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files if name != "metadata"}
            metadata = json.loads(str(data["metadata"]))
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path} is not a slicens result file: {exc}") from exc
    version = metadata.pop("file_format", None)
    if version != FILE_FORMAT:
        raise ValueError(f"{path} has result file format {version!r}; this slicens reads "
                         f"format {FILE_FORMAT}")
    return arrays, metadata


def select(path, arrays: dict, names: tuple, optional: tuple = ()) -> dict:
    """The arrays in ``names`` of a file's ``arrays``; those in ``optional`` only where the
    file has them (files written before they were recorded), the others required."""
    missing = [name for name in names if name not in arrays and name not in optional]
    if missing:
        raise ValueError(f"{path} is not a slicens result file: it lacks {missing}")
    return {name: arrays[name] for name in names if name in arrays}


def jsonable(value):
    """Dicts with non-string keys, tuples and NumPy scalars made JSON-safe."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value  # floats incl. inf/nan: json writes Infinity/NaN and reads them back
