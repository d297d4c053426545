"""The ``slicens`` command line: ``run``, ``probe``, ``report`` and ``demo``.

    slicens run model.py --output fit.npz      # sample; save the result
    slicens probe model.py --budget 6GB        # predicted memory per chunk size
    slicens report fit.npz                     # summary table and PNG figures
    slicens demo                               # the lens demo (what `make demo` runs)

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

from slicens.demo import add_arguments

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


_RUN_KEYS = ("n_live", "num_delete", "num_inner_steps", "chunk_size", "memory_budget", "seed",
             "dlogz", "max_evals", "max_iterations", "max_time", "min_ess", "schedule",
             "max_expansions", "max_shrinkage", "checkpoint", "resume", "checkpoint_every",
             "likelihood_id", "progress", "method", "f_live", "n_batch", "refine", "exploration")


def _run(args) -> None:
    import slicens

    output = Path(args.output or Path(args.model).with_suffix(".result.npz").name)
    if output.exists() and not args.overwrite:
        raise UsageError(f"output {str(output)!r} exists; pass --overwrite to replace it")
    loglike, prior, settings = load_model(args.model)
    unknown = sorted(set(settings) - set(_RUN_KEYS))
    if unknown:
        raise UsageError(f"{args.model}: unknown settings {unknown}; known: {list(_RUN_KEYS)}")
    for key in ("n_live", "num_delete", "seed", "checkpoint", "memory_budget", "max_time",
                "method"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if args.chunk_size is not None:
        settings["chunk_size"] = args.chunk_size if args.chunk_size == "auto" else _int(
            "--chunk-size", args.chunk_size)
    if args.quiet:
        settings["progress"] = False
    try:
        result = slicens.run(loglike, prior, **settings)
    except (TypeError, ValueError, FileExistsError) as exc:
        raise UsageError(str(exc).splitlines()[0]) from exc
    result.save(output, overwrite=args.overwrite)
    print(result.summary())
    print(f"result saved to {output}")


def _int(flag: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"{flag} must be an integer or 'auto', got {value!r}") from None


def _report(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np

    import slicens
    from slicens import plots

    if not Path(args.result).is_file():
        raise UsageError(f"result file {args.result!r} does not exist")
    try:
        result = slicens.load(args.result)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    print(result.summary())
    mean, sd = result.posterior_mean(), np.sqrt(np.diag(result.posterior_cov()))
    print(f"\n{'parameter':<16} {'mean':>12} {'sd':>12}")
    for name, m, s in zip(result.names, mean, sd, strict=True):
        print(f"{name:<16} {m:12.5g} {s:12.5g}")
    if isinstance(result, slicens.BoundedResult):
        print(_bounds_table(result))
    else:
        test, memory = result.insertion_test, result.start_correlation_test
        print(f"\ninsertion-order test: z = {test['zscore']:.2f}, p = {test['pvalue']:.3g}; "
              f"start-to-end rank correlation {memory['rho']:.3f} "
              f"(p = {memory['pvalue']:.3g})")
    folder = Path(args.outdir or Path(args.result).parent)
    folder.mkdir(parents=True, exist_ok=True)
    stem = Path(args.result).name.split(".")[0]
    for name, draw in (("diagnostics", plots.diagnostics), ("corner", plots.corner)):
        path = folder / f"{stem}_{name}.png"
        draw(result, path)
        print(f"wrote {path}")


def _bounds_table(result) -> str:
    """A line per bound of a bounded result: its counted volume, points, how many of them
    lie above its threshold, and its share of the evidence."""
    lines = [f"\n{'bound':>5} {'log volume':>11} {'+/-':>6} {'points':>7} "
             f"{'above':>6} {'refined':>7} {'evidence':>8}"]
    for k in range(result.n_bounds):
        lines.append(f"{k:5d} {result.bound_log_volumes[k]:11.3f} "
                     f"{result.bound_log_volume_errors[k]:6.3f} {result.bound_draws[k]:7d} "
                     f"{result.bound_shares_above[k]:6.2f} "
                     f"{'yes' if result.bound_refined[k] else 'no':>7} "
                     f"{result.bound_evidence_shares[k]:8.3f}")
    return "\n".join(lines)


def _demo(args) -> None:
    from slicens.demo import run_demo

    run_demo(args)


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    """The model file and the options that ``run`` and ``probe`` share."""
    parser.add_argument("model", help="Python file defining loglike and prior")
    parser.add_argument("--budget", dest="memory_budget", default=None,
                        help="memory budget for chunk_size 'auto': bytes, '6GB' or '80%%' "
                             "of free memory (default: 80%% of free memory)")
    parser.add_argument("--n-live", type=int, default=None)
    parser.add_argument("--num-delete", type=int, default=None)
    parser.add_argument("--x64", action="store_true", help="enable float64 in JAX")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slicens", description="Nested slice sampling with bounded-memory batches.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    probe = commands.add_parser(
        "probe", help="predict peak memory per chunk size (compile only)",
        description="Compile the model's iteration at two chunk sizes (never run it) and "
                    "print chunk size -> predicted peak bytes, the per-lane bytes, and the "
                    "chunk chosen for the budget.")
    _model_arguments(probe)
    probe.set_defaults(handler=_probe)

    run = commands.add_parser(
        "run", help="sample a model file and save the result",
        description="Run slicens on the model file's loglike and prior (with its settings "
                    "dict, overridden by these options) and save the result (.npz).")
    _model_arguments(run)
    run.add_argument("--output", "-o", default=None,
                     help="result file (default: MODEL.result.npz in the current directory)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing output")
    run.add_argument("--checkpoint", default=None, help="checkpoint file (resumable)")
    run.add_argument("--chunk-size", default=None, help="an integer or 'auto'")
    run.add_argument("--seed", type=int, default=None)
    run.add_argument("--method", default=None, choices=("slice", "bounds", "auto"),
                     help="nested slice sampling (default), bounded draws with importance "
                          "weights, or chosen per run (see slicens.run)")
    run.add_argument("--max-time", type=float, default=None, help="seconds of sampling")
    run.add_argument("--quiet", action="store_true", help="no progress display")
    run.set_defaults(handler=_run)

    report = commands.add_parser(
        "report", help="summary table and PNG figures of a saved result",
        description="Print the summary, posterior means and mixing tests (a bounded "
                    "run: its bounds) of a result file, and write "
                    "RESULT_diagnostics.png and RESULT_corner.png.")
    report.add_argument("result", help="a file written by slicens run or Result.save")
    report.add_argument("--outdir", default=None, help="folder for the PNGs (default: "
                                                       "the result's folder)")
    report.set_defaults(handler=_report, x64=False)

    demo = commands.add_parser(
        "demo", help="the strong-lens demo (what make demo runs)",
        description="Sample the synthetic strong-lens likelihood (float64) and print logZ "
                    "and the posterior against the true parameters.")
    add_arguments(demo)
    demo.set_defaults(handler=_demo, x64=False)
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
