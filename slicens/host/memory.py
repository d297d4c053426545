"""Memory policy: XLA's compiled memory analysis, memory budgets, the device's free
memory, and the chunk size that fits a budget.

:func:`memory_of` reads XLA's analysis of a compiled program (the one place it is read);
:func:`parse_budget` reads a budget; :func:`free_memory` asks the device (or the operating
system) what is free; :func:`choose_chunk_size` picks the largest chunk whose compiled
peak fits the budget, from at most a few compilations. The lanes themselves
(:mod:`slicens.core.chunking`) know nothing of this.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from typing import NamedTuple

import jax

from slicens.host import processes

__all__ = [
    "CompiledMemory",
    "compiled_memory",
    "memory_of",
    "MemoryModel",
    "ChunkChoice",
    "choose_chunk_size",
    "fit_memory_line",
    "parse_budget",
    "free_memory",
    "free_memory_per_device",
    "DEFAULT_BUDGET",
    "resolve_budget",
    "format_bytes",
]


class CompiledMemory(NamedTuple):
    """XLA's compiled memory analysis of one function, in bytes."""

    argument: int
    output: int
    temp: int
    generated_code: int

    @property
    def peak(self) -> int:
        """Arguments, outputs and temporaries alive together: the working set."""
        return self.argument + self.output + self.temp


def compiled_memory(fn: Callable, *args) -> CompiledMemory:
    """Compile ``fn(*args)`` (without running it) and read XLA's memory analysis.

    ``args`` may be arrays or ``jax.ShapeDtypeStruct``; nothing is allocated or run.
    """
    memory = memory_of(jax.jit(fn).lower(*args).compile())
    if memory is None:
        raise RuntimeError(
            f"XLA gives no compiled memory analysis on backend {jax.default_backend()!r}"
        )
    return memory


def memory_of(compiled) -> CompiledMemory | None:
    """XLA's memory analysis of a compiled executable, or None where the backend has none."""
    analysis = compiled.memory_analysis()
    if analysis is None:
        return None
    return CompiledMemory(
        argument=int(analysis.argument_size_in_bytes),
        output=int(analysis.output_size_in_bytes),
        temp=int(analysis.temp_size_in_bytes),
        generated_code=int(analysis.generated_code_size_in_bytes),
    )


# --- choosing a chunk size for a memory budget ---------------------------------------

#: Budget when the user gives none: this fraction of the memory free on the device.
#: The margin covers what XLA's static analysis does not see (allocator fragmentation,
#: buffers of other programs, the host side of the run).
DEFAULT_BUDGET = "80%"

# Memory is sold in binary units (JEDEC): a "6GB" GPU holds 6 x 2**30 bytes.
_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_BUDGET = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(%|B|[KMGT](?:i?B)?)?\s*$", re.IGNORECASE)


def free_memory(device=None) -> tuple[int, str]:
    """Bytes free for a new program on ``device`` (default: JAX's first device), and where
    the figure comes from.

    On an accelerator: ``bytes_limit - bytes_in_use`` from ``device.memory_stats()``. On
    CPU: the operating system's available RAM (``MemAvailable`` in ``/proc/meminfo``, or
    ``sysconf(SC_AVPHYS_PAGES)``). Raises if neither is known, asking for an explicit
    budget in bytes.
    """
    device = jax.devices()[0] if device is None else device
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and "bytes_limit" in stats:
        free = int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
        return free, f"{device.device_kind} memory_stats: bytes_limit - bytes_in_use"
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo"
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "sysconf"
    except (ValueError, OSError, AttributeError):
        raise RuntimeError(
            f"cannot tell how much memory is free on {device}; pass memory_budget in bytes "
            "or as a string such as '6GB'"
        ) from None


def free_memory_per_device(devices: tuple) -> tuple[int, str]:
    """As :func:`free_memory`, for a run sharded over ``devices``: the least any of them
    has free, or, for CPU devices (which share their host's RAM), each one's share.
    Under several processes each reads its own devices and all take the least."""
    mine = processes.local(devices)
    free, where = min(free_memory(d) for d in mine)
    if all(d.platform == "cpu" for d in mine):
        free, where = free // len(mine), f"{where}, shared by {len(mine)} CPU devices"
    else:
        where = f"{where}, the least of {len(devices)} devices"
    if processes.several():
        free, where = processes.least(free), f"{where}, the least of every process"
    return free, where


def parse_budget(budget, free: Callable[[], int] | None = None) -> int:
    """A memory budget in bytes.

    ``budget`` is a positive integer (bytes), a size string such as ``"6GB"``, ``"512MiB"``
    or ``"1.5 TB"`` (binary units, as memory is sold: 1 GB = 1 GiB = 2**30 bytes), or a
    percentage such as ``"80%"`` of the free memory ``free()`` reports (default
    :func:`free_memory`).
    """
    if isinstance(budget, bool) or not isinstance(budget, (int, str)):
        raise TypeError(
            f"memory_budget must be bytes (int) or a string like '6GB' or '80%', "
            f"got memory_budget={budget!r}"
        )
    if isinstance(budget, int):
        if budget <= 0:
            raise ValueError(f"memory_budget must be positive, got memory_budget={budget}")
        return budget
    match = _BUDGET.match(budget)
    if match is None:
        raise ValueError(
            f"memory_budget={budget!r} is not a size: use bytes, a number with a unit "
            "(B, KB, MB, GB, TB; KiB.. accepted too) or a percentage of free memory ('80%')"
        )
    number, unit = float(match.group(1)), (match.group(2) or "").upper()
    if unit == "%":
        if not 0 < number <= 100:
            raise ValueError(f"memory_budget percentage must be in (0, 100], got {budget!r}")
        free_bytes = (free or (lambda: free_memory()[0]))()
        return int(free_bytes * number / 100)
    size = int(number * _UNITS[unit[:1] if unit[:1] in "KMGT" else ""])
    if size <= 0:
        raise ValueError(f"memory_budget must be positive, got memory_budget={budget!r}")
    return size


class MemoryModel(NamedTuple):
    """Compiled peak bytes as a line in the chunk size: ``base + chunk * per_lane``."""

    base: int
    per_lane: int

    @classmethod
    def fit(cls, peaks: dict[int, int]) -> MemoryModel:
        """The line through the peaks measured at two chunk sizes."""
        (small, p_small), (large, p_large) = sorted(peaks.items())
        per_lane = max(0, math.ceil((p_large - p_small) / (large - small)))
        return cls(base=max(0, p_small - small * per_lane), per_lane=per_lane)

    def peak(self, chunk: int) -> int:
        return self.base + chunk * self.per_lane

    def largest_chunk(self, budget: int) -> int:
        """The largest chunk whose predicted peak fits ``budget`` (0 if none)."""
        if self.per_lane == 0:
            return math.inf if self.base <= budget else 0
        return max(0, (budget - self.base) // self.per_lane)


class ChunkChoice(NamedTuple):
    """A chunk size chosen for a budget, with the figures behind it (bytes)."""

    chunk_size: int
    predicted_peak: int
    budget: int
    model: MemoryModel | None  # None when the whole batch fit: one compile, no fit
    #: chunk size -> compiled peak of each compilation made; None where compiling that
    #: chunk ran out of device memory (it does not fit, whatever its analysis would say)
    measured: dict[int, int | None]


#: What ``peak_at`` may return: peak bytes, or None when compiling ran out of memory.
PeakAt = Callable[[int], "int | None"]


def choose_chunk_size(peak_at: PeakAt, budget: int, batch_size: int) -> ChunkChoice:
    """The largest chunk size (at most ``batch_size``) whose compiled peak fits ``budget``.

    ``peak_at(chunk)`` compiles the program at that chunk size and returns its peak bytes,
    or None when the compilation itself ran out of device memory (a GPU autotuner
    allocates scratch buffers while compiling). It is called at ``batch_size`` (kept if it
    fits, so a small model costs no extra compilation), then as :func:`fit_memory_line`
    needs; the chunk chosen lies below every size that could not be compiled.

    Raises ``ValueError`` when not even one lane fits, naming the budget and the need.
    """
    measured = {batch_size: peak_at(batch_size)}
    if measured[batch_size] is not None and measured[batch_size] <= budget:
        return ChunkChoice(batch_size, measured[batch_size], budget, None, measured)
    measured, model = fit_memory_line(peak_at, batch_size, measured)
    # Below the batch (it did not fit) and below every chunk too large to compile.
    ceiling = min([batch_size] + [c for c, peak in measured.items() if peak is None]) - 1
    if model is not None:
        chunk = min(model.largest_chunk(budget), ceiling)
    else:  # fewer than two sizes compiled: only what was measured can be trusted
        chunk = max((c for c, peak in measured.items()
                     if peak is not None and peak <= budget and c <= ceiling), default=0)
    if chunk < 1:
        raise _over_budget(budget, measured, model)
    chunk = int(chunk)
    return ChunkChoice(chunk, model.peak(chunk) if model is not None else measured[chunk],
                       budget, model, measured)


def fit_memory_line(peak_at: PeakAt, batch_size: int,
                    measured: dict[int, int | None] | None = None):
    """``(measured, model)``: compiled peaks and the line through two of them.

    The peaks are measured at ``batch_size`` (or, where compiling it ran out of memory, at
    the largest of ``batch_size // 2``, ``// 4``, ... that compiles) and at a small chunk,
    reusing those already in ``measured``. The model is None when fewer than two sizes
    compiled (a batch of 1, or a device that cannot compile even the small chunk).
    """
    measured = dict(measured or {})
    # Chunk 1 compiles without a batch axis on some backends; 2 keeps the shape generic.
    small = 2 if batch_size > 2 else 1
    large = batch_size
    while True:
        if large not in measured:
            measured[large] = peak_at(large)
        if measured[large] is not None or large <= small:
            break
        large = max(small, large // 2)
    if small not in measured:
        measured[small] = peak_at(small)
    compiled = sorted(c for c, peak in measured.items() if peak is not None)
    if len(compiled) < 2 and 1 not in measured:  # the last size left to try
        measured[1] = peak_at(1)
        compiled = sorted(c for c, peak in measured.items() if peak is not None)
    if len(compiled) < 2:
        return measured, None
    ends = (compiled[0], compiled[-1])
    return measured, MemoryModel.fit({c: measured[c] for c in ends})


def _over_budget(budget: int, measured: dict[int, int | None], model: MemoryModel | None):
    too_big = sorted(c for c, peak in measured.items() if peak is None)
    if model is not None:
        need = f"{format_bytes(model.base)} base + {format_bytes(model.per_lane)} per lane"
    elif any(peak is not None for peak in measured.values()):
        need = ", ".join(f"{format_bytes(peak)} at chunk_size {c}"
                         for c, peak in sorted(measured.items()) if peak is not None)
    else:
        need = "more than the device has"
    if too_big:
        need += (f" (compiling chunk_size {', '.join(map(str, too_big))} ran out of device "
                 f"memory)")
    return ValueError(
        f"memory_budget of {format_bytes(budget)} ({budget} bytes) cannot hold even chunk_size=1: "
        f"the compiled iteration needs {need}; raise the budget or reduce the model"
    )


def format_bytes(n: int) -> str:
    """A byte count in binary units, for messages and tables."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} TiB"


def resolve_budget(memory_budget, default: str = DEFAULT_BUDGET,
                   devices: tuple = ()) -> tuple[int, str]:
    """A run's budget in bytes per device and where it came from: ``memory_budget`` if
    given, else ``default`` (a percentage) of the free memory (of the device with least
    free of ``devices``, when the run is sharded)."""
    def free_and_where():
        return free_memory_per_device(devices) if devices else free_memory()

    if memory_budget is not None:
        return (parse_budget(memory_budget, free=lambda: free_and_where()[0]),
                f"memory_budget={memory_budget!r}")
    free, where = free_and_where()
    return (parse_budget(default, free=lambda: free),
            f"default {default} of {format_bytes(free)} free ({where})")
