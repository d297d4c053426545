"""Progress of a run: a live bar on a terminal, plain lines elsewhere, or nothing.

``progress="auto"`` (the default) shows a tqdm bar when stderr is a terminal and tqdm is
installed (``pip install slicens[progress]``), else rich's console status if rich is, else
a single line rewritten in place; when stderr is not a terminal (a batch job's log) it
prints a plain line every 30 seconds and one at the end. ``False`` is silent. ``"tqdm"``,
``"rich"`` and ``"log"`` force one display (the first two raise if not installed).
"""

from __future__ import annotations

import sys
import time
from typing import NamedTuple

__all__ = ["Snapshot", "BoundedSnapshot", "make_display", "MODES"]

MODES = ("auto", "tqdm", "rich", "log", True, False)


class Snapshot(NamedTuple):
    """What a display shows after a dispatch."""

    iteration: int
    n_evals: int
    logZ: float
    logZ_err: float
    remaining: float  # log(Z + Z_live) - log Z: what dlogz compares against
    dlogz: float
    evals_per_second: float
    chunk_size: int
    elapsed: float

    def line(self) -> str:
        return (f"it {self.iteration:,} | {self.n_evals:,} evals | logZ {self.logZ:.3f} "
                f"+/- {self.logZ_err:.3f} | dlogz {self.remaining:.3g} > {self.dlogz:g} | "
                f"{self.evals_per_second:,.0f} evals/s | chunk {self.chunk_size} | "
                f"{self.elapsed:.0f} s")

    def postfix(self) -> str:
        """The line for a progress bar, whose count is ``iteration``."""
        return (f"evals={self.n_evals:,} logZ={self.logZ:.3f}+/-{self.logZ_err:.3f} "
                f"dlogz={self.remaining:.3g}>{self.dlogz:g} "
                f"{self.evals_per_second:,.0f}/s chunk={self.chunk_size}")


class BoundedSnapshot(NamedTuple):
    """What a display shows of a bounded run (``method="bounds"``) after a batch."""

    iteration: int  # batches drawn
    n_evals: int
    phase: str  # "exploration" or "sampling"
    n_bounds: int
    logZ: float
    logZ_err: float
    ess: float
    min_ess: float
    evals_per_second: float
    chunk_size: int
    elapsed: float

    def line(self) -> str:
        return (f"{self.phase} | batch {self.iteration:,} | {self.n_evals:,} evals | "
                f"{self.n_bounds} bounds | logZ {self.logZ:.3f} +/- {self.logZ_err:.3f} | "
                f"ESS {self.ess:,.0f} / {self.min_ess:,.0f} | "
                f"{self.evals_per_second:,.0f} evals/s | chunk {self.chunk_size} | "
                f"{self.elapsed:.0f} s")

    def postfix(self) -> str:
        return (f"{self.phase} evals={self.n_evals:,} bounds={self.n_bounds} "
                f"logZ={self.logZ:.3f}+/-{self.logZ_err:.3f} "
                f"ESS={self.ess:,.0f}/{self.min_ess:,.0f} {self.evals_per_second:,.0f}/s "
                f"chunk={self.chunk_size}")


class _Silent:
    """The display interface: ``update`` with each snapshot shown (the run shows a last
    one before closing), ``close`` when the run ends."""

    interval = float("inf")

    def update(self, snapshot: Snapshot | BoundedSnapshot) -> None:
        pass

    def close(self, snapshot: Snapshot | None) -> None:
        pass


class _Lines(_Silent):
    """Plain lines to a stream (a log file), at most one per ``interval`` seconds."""

    def __init__(self, stream, interval: float):
        self.stream, self.interval = stream, interval

    def update(self, snapshot: Snapshot | BoundedSnapshot) -> None:
        print(f"slicens: {snapshot.line()}", file=self.stream, flush=True)


class _InPlace(_Lines):
    """One terminal line rewritten in place."""

    def update(self, snapshot: Snapshot | BoundedSnapshot) -> None:
        print(f"\r\x1b[Kslicens: {snapshot.line()}", end="", file=self.stream, flush=True)

    def close(self, snapshot: Snapshot | None) -> None:
        print(file=self.stream, flush=True)


class _Tqdm(_Silent):
    interval = 0.2

    def __init__(self):
        from tqdm.auto import tqdm

        self.bar = tqdm(desc="slicens", unit=" it", dynamic_ncols=True)

    def update(self, snapshot: Snapshot | BoundedSnapshot) -> None:
        self.bar.update(snapshot.iteration - self.bar.n)
        self.bar.set_postfix_str(snapshot.postfix())

    def close(self, snapshot: Snapshot | None) -> None:
        self.bar.close()


class _Rich(_Silent):
    interval = 0.2

    def __init__(self):
        from rich.console import Console

        self.status = Console(stderr=True).status("slicens: starting")
        self.status.start()

    def update(self, snapshot: Snapshot | BoundedSnapshot) -> None:
        self.status.update(f"slicens: {snapshot.line()}")

    def close(self, snapshot: Snapshot | None) -> None:
        self.status.stop()
        if snapshot is not None:
            print(f"slicens: {snapshot.line()}", file=sys.stderr, flush=True)


def _installed(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


class Display:
    """Rate-limits a display's updates to its interval."""

    def __init__(self, display):
        self.display, self.last, self.snapshot = display, -float("inf"), None

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.display.interval

    def update(self, snapshot: Snapshot | BoundedSnapshot) -> None:
        self.snapshot, self.last = snapshot, time.monotonic()
        self.display.update(snapshot)

    def close(self) -> None:
        self.display.close(self.snapshot)


def make_display(mode, stream=None) -> Display:
    """The display for ``progress=mode`` (see the module docstring)."""
    if mode not in MODES or (isinstance(mode, int) and not isinstance(mode, bool)):
        raise ValueError(f"progress must be one of {MODES}, got progress={mode!r}")
    stream = sys.stderr if stream is None else stream
    if mode is False:
        return Display(_Silent())
    if mode == "tqdm" or mode == "rich":
        if not _installed(mode):
            raise ValueError(f"progress={mode!r} needs {mode} installed (pip install {mode})")
        return Display(_Tqdm() if mode == "tqdm" else _Rich())
    if mode == "log":
        return Display(_Lines(stream, 30.0))
    if not (hasattr(stream, "isatty") and stream.isatty()):
        return Display(_Lines(stream, 30.0))
    if _installed("tqdm"):
        return Display(_Tqdm())
    if _installed("rich"):
        return Display(_Rich())
    return Display(_InPlace(stream, 0.2))
