"""The ``slicens`` command line: ``slicens probe FILE.py`` (and, as they land, run, report,
demo).

A model file is a Python file that defines ``loglike`` (a JAX function of one parameter
vector) and ``prior`` (what :func:`slicens.run` accepts), and optionally ``settings``, a
dict of :func:`slicens.run` keyword arguments. User mistakes end in one line on stderr
and exit status 2, not a traceback.
"""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

__all__ = ["main", "load_model"]


class UsageError(Exception):
    """A mistake in what the user passed: reported in one line."""


def load_model(path: str) -> tuple[object, object, dict]:
    """``(loglike, prior, settings)`` from a model file."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"model file {path!r} does not exist")
    try:
        namespace = runpy.run_path(str(file))
    except Exception as exc:
        raise UsageError(f"{path}: {type(exc).__name__}: {exc}") from exc
    missing = [name for name in ("loglike", "prior") if name not in namespace]
    if missing:
        raise UsageError(f"{path} must define {' and '.join(missing)}")
    settings = namespace.get("settings", {})
    if not isinstance(settings, dict):
        raise UsageError(f"{path}: settings must be a dict of slicens.run arguments, "
                         f"got {type(settings).__name__}")
    return namespace["loglike"], namespace["prior"], dict(settings)


def _x64(args) -> None:
    import jax

    if args.x64:
        jax.config.update("jax_enable_x64", True)


def _probe(args) -> None:
    import slicens

    loglike, prior, settings = load_model(args.model)
    keys = ("n_live", "num_delete", "num_inner_steps", "schedule", "max_expansions",
            "max_shrinkage", "memory_budget")
    kwargs = {k: v for k, v in settings.items() if k in keys}
    for key in ("n_live", "num_delete", "memory_budget"):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
    try:
        probe = slicens.probe_memory(loglike, prior, **kwargs)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    print(probe.table())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slicens", description="Nested slice sampling with bounded-memory batches.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    probe = commands.add_parser(
        "probe", help="predict peak memory per chunk size (compile only)",
        description="Compile the model's iteration at two chunk sizes (never run it) and "
                    "print chunk size -> predicted peak bytes, the per-lane bytes, and the "
                    "chunk chosen for the budget.")
    probe.add_argument("model", help="Python file defining loglike and prior")
    probe.add_argument("--budget", dest="memory_budget", default=None,
                       help="memory budget: bytes, '6GB' or '80%%' of free memory "
                            "(default: 80%% of free memory)")
    probe.add_argument("--n-live", type=int, default=None)
    probe.add_argument("--num-delete", type=int, default=None)
    probe.add_argument("--x64", action="store_true", help="enable float64 in JAX")
    probe.set_defaults(handler=_probe)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _x64(args)
    try:
        args.handler(args)
    except UsageError as exc:
        print(f"slicens {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
