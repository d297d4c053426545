"""What a run's programs would need, compiled but never run: :func:`probe_memory` and
the table ``slicens probe`` prints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slicens.core import blocks
from slicens.host.compiled import Compiler
from slicens.host.memory import (
    MemoryModel,
    choose_chunk_size,
    fit_memory_line,
    format_bytes,
    resolve_budget,
)
from slicens.host.settings import (
    DEFAULT_MAX_SHRINKAGE,
    DEFAULT_N_LIVE,
    resolve,
    resolve_devices,
)

__all__ = ["MemoryProbe", "probe_memory"]


@dataclass(frozen=True)
class MemoryProbe:
    """Compiled peak memory of a run's programs against the chunk size (compile only).

    ``model`` is the line ``base + chunk * per_lane`` through the peaks ``measured`` at
    two chunk sizes (None where a size's compilation ran out of device memory); ``rows``
    gives ``(chunk_size, predicted peak bytes or None)``, None for a chunk at or above a
    size too large to compile; ``chosen`` is the chunk ``chunk_size="auto"`` takes for
    ``budget`` (None: not even one lane fits).
    """

    num_delete: int
    model: MemoryModel | None
    measured: dict[int, int | None]
    rows: list[tuple[int, int | None]]
    budget: int
    budget_source: str
    chosen: int | None

    def table(self) -> str:
        per_lane = "n/a" if self.model is None else format_bytes(self.model.per_lane)
        base = "n/a" if self.model is None else format_bytes(self.model.base)
        lines = [
            f"per-lane bytes: {per_lane}   base: {base}   chains per iteration: "
            f"{self.num_delete}",
            f"{'chunk_size':>10}  {'predicted peak':>15}  {'fits budget':>11}",
        ]
        for chunk, peak in self.rows:
            shown = "out of memory" if peak is None else format_bytes(peak)
            mark = "yes" if peak is not None and peak <= self.budget else "no"
            chosen = "  <- chosen" if chunk == self.chosen else ""
            lines.append(f"{chunk:>10}  {shown:>15}  {mark:>11}{chosen}")
        too_big = sorted(c for c, peak in self.measured.items() if peak is None)
        if too_big:
            lines.append(f"out of memory: compiling chunk_size {', '.join(map(str, too_big))} "
                         f"ran out of device memory (XLA's autotuner allocates while it "
                         f"compiles); larger chunks cannot fit either")
        chosen = ("none: not even chunk_size=1 fits" if self.chosen is None
                  else f"chunk_size={self.chosen}")
        lines.append(f"budget {format_bytes(self.budget)} ({self.budget_source}): {chosen}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def probe_memory(loglike: Callable, prior, *, n_live: int = DEFAULT_N_LIVE,
                 num_delete: int | None = None, num_inner_steps: int | str | None = "auto",
                 memory_budget=None, chunk_sizes=None, schedule: str = "lanes",
                 max_expansions: int | None = None,
                 max_shrinkage: int = DEFAULT_MAX_SHRINKAGE, devices=None) -> MemoryProbe:
    """Predict the compiled peak memory of :func:`slicens.run` for each chunk size.

    Compiles the run's iteration block at ``num_delete`` and at 2 chains (never runs the
    likelihood), fits ``base + chunk * per_lane`` and tabulates it for ``chunk_sizes``
    (default: powers of two up to ``num_delete``, and ``num_delete``). A size whose
    compilation runs out of device memory is reported as not fitting (and the line is
    fitted through the largest size below it that compiles). The other arguments are
    those of :func:`slicens.run`; ``print(probe)`` shows the table. With several
    ``devices`` the chunk sizes, peaks and budget are per device, and the batch is an
    iteration's chains on each device.
    """
    prior, settings, _, _ = resolve(
        loglike, prior, n_live=n_live, num_delete=num_delete, num_inner_steps=num_inner_steps,
        chunk_size="auto", memory_budget=memory_budget, schedule=schedule,
        max_expansions=max_expansions, max_shrinkage=max_shrinkage)
    capacity = blocks.block_capacity(settings.num_delete, prior.dim,
                                     keep_per_chain=settings.keep_per_chain)
    compiler = Compiler(loglike, prior, settings, schedule, capacity,
                        devices=resolve_devices(devices))
    budget, source = resolve_budget(memory_budget, devices=compiler.devices)
    batch = compiler.batch("block")
    _, model = fit_memory_line(compiler.block_peak, batch)
    try:
        chosen = choose_chunk_size(compiler.block_peak, budget, batch).chunk_size
    except ValueError:
        chosen = None
    measured = compiler.measured_peaks()  # both calls' compilations, each made once
    if chunk_sizes is None:
        chunk_sizes = sorted({2**i for i in range(batch.bit_length()) if 2**i <= batch} | {batch})
    if chosen is not None:
        chunk_sizes = sorted(set(chunk_sizes) | {chosen})
    rows = [(int(c), _predicted_peak(int(c), measured, model)) for c in chunk_sizes]
    return MemoryProbe(batch, model, measured, rows, budget, source, chosen)


def _predicted_peak(chunk: int, measured: dict[int, int | None],
                    model: MemoryModel | None) -> int | None:
    """The peak at ``chunk``: measured where compiled, else from the line; None at or
    above a size whose compilation ran out of memory."""
    if any(peak is None and chunk >= c for c, peak in measured.items()):
        return None
    if measured.get(chunk) is not None:
        return measured[chunk]
    return None if model is None else model.peak(chunk)
