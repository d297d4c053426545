"""chunk_size="auto": budgets, the chunk chosen for them, the probe table."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import slicens
from slicens.core import blocks
from slicens.host.compiled import Compiler
from slicens.host.memory import MemoryModel, choose_chunk_size, parse_budget
from slicens.host.settings import resolve
from slicens.problems.mapping import MAPPING_PRIOR, mapping_matrix_loglike
from tests import shared

GiB = 2**30


@pytest.mark.parametrize(
    "budget, expected",
    [
        ("6GB", 6 * GiB),
        ("6 GiB", 6 * GiB),
        ("512MB", 512 * 2**20),
        ("1.5TB", int(1.5 * 2**40)),
        ("2048", 2048),
        ("100B", 100),
        ("8kb", 8192),
        (123456, 123456),
        ("80%", 800),
        ("12.5%", 125),
    ],
)
def test_parse_budget(budget, expected):
    assert parse_budget(budget, free=lambda: 1000) == expected


@pytest.mark.parametrize(
    "budget, error",
    [
        ("6 gigs", ValueError),
        ("", ValueError),
        ("-5GB", ValueError),
        ("0GB", ValueError),
        ("150%", ValueError),
        ("GB", ValueError),
        (0, ValueError),
        (-1, ValueError),
        (1.5e9, TypeError),
        (True, TypeError),
    ],
)
def test_malformed_budget_names_the_value(budget, error):
    with pytest.raises(error, match="memory_budget"):
        parse_budget(budget, free=lambda: 1000)


def test_choice_compiles_once_when_the_batch_fits_and_twice_otherwise():
    calls = []

    def peak_at(chunk):
        calls.append(chunk)
        return 100 + 10 * chunk

    assert choose_chunk_size(peak_at, 10_000, 16).chunk_size == 16
    assert calls == [16]
    calls.clear()
    choice = choose_chunk_size(peak_at, 175, 16)
    assert calls == [16, 2]
    assert choice.chunk_size == 7 and choice.model == MemoryModel(100, 10)
    assert choice.predicted_peak == 170


def test_budget_below_one_lane_raises_with_the_need():
    with pytest.raises(ValueError, match=r"memory_budget of 105 B .* 100 B base \+ 10 B per lane"):
        choose_chunk_size(lambda c: 100 + 10 * c, 105, 16)


# --- the 20,000 x 1,000 mapping-matrix likelihood (compile only) --------------------------


@pytest.fixture(scope="module")
def mapping_compiler():
    loglike = shared.mapping_loglike()  # and its programs, shared with tests/test_memory.py
    prior, settings, _, _ = resolve(
        loglike, MAPPING_PRIOR, n_live=64, num_delete=16, num_inner_steps=4,
        chunk_size="auto", memory_budget=None, schedule="lanes", max_expansions=10,
        max_shrinkage=100)
    # the capacity probe_memory and run use: the programs the probes compile are shared
    capacity = blocks.block_capacity(settings.num_delete, prior.dim,
                                     keep_per_chain=settings.keep_per_chain)
    return loglike, Compiler(loglike, prior, settings, "lanes", capacity)


@pytest.mark.parametrize("gigabytes", [1, pytest.param(2, marks=pytest.mark.slow),
                                       pytest.param(4, marks=pytest.mark.slow)])
def test_chosen_chunk_fills_the_budget(mapping_compiler, gigabytes):
    """The compiled peak of the chosen chunk is <= the budget and >= 70% of it."""
    loglike, compiler = mapping_compiler
    budget = parse_budget(f"{gigabytes}GB")
    probe = slicens.probe_memory(loglike, MAPPING_PRIOR, n_live=64, num_delete=16,
                                 num_inner_steps=4, memory_budget=f"{gigabytes}GB")
    assert probe.chosen is not None and probe.chosen < 16
    compiled_peak = compiler.program(probe.chosen).peak  # init and block, as run compiles
    assert compiled_peak <= budget
    assert compiled_peak >= 0.7 * budget, (probe.chosen, compiled_peak, budget)
    predicted = dict(probe.rows)[probe.chosen]
    assert abs(predicted - compiled_peak) <= 0.1 * compiled_peak, (predicted, compiled_peak)
    assert f"chunk_size={probe.chosen}" in probe.table()


def test_probe_rows_match_compiled_peaks(mapping_compiler):
    """Predicted peaks within 10% of the compiled analysis at chunk sizes not measured."""
    loglike, compiler = mapping_compiler
    probe = slicens.probe_memory(loglike, MAPPING_PRIOR, n_live=64, num_delete=16,
                                 num_inner_steps=4, memory_budget="1GB",
                                 chunk_sizes=[1, 4, 16])
    assert probe.model.per_lane >= 20_000 * 1_000 * 8  # sees the mapping matrix per lane
    for chunk, predicted in probe.rows:
        compiled = compiler.block_peak(chunk)
        assert abs(predicted - compiled) <= 0.1 * compiled, (chunk, predicted, compiled)


# --- run(chunk_size="auto") on a cheap likelihood with a large working set ----------------

PRIOR = MAPPING_PRIOR
# A small mapping-matrix likelihood: each evaluation materialises a 1000 x 100 matrix
# (scatter, matmul, Cholesky), so its memory grows with the lanes on every XLA version.
# (A likelihood XLA can fuse, such as a mean over an outer product, may not: jax 0.11
# compiled one with the whole batch using less memory than two lanes.)
wide_loglike = mapping_matrix_loglike(1_000, 100)


RUN = dict(n_live=40, num_delete=8, num_inner_steps=3, max_iterations=6, seed=3)


@pytest.fixture(scope="module")
def three_lane_budget():
    """A budget with room for 3 lanes of the wide likelihood (not 4)."""
    probe = slicens.probe_memory(wide_loglike, PRIOR, n_live=40, num_delete=8,
                                 num_inner_steps=3, memory_budget="4%")
    per_lane = probe.model.per_lane
    return probe.model.base + 3 * per_lane + per_lane // 2


@pytest.fixture(scope="module")
def chunk_three():
    return slicens.run(wide_loglike, PRIOR, chunk_size=3, **RUN)


def assert_same_run(a, b):
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.loglike, b.loglike)
    assert a.logZ == b.logZ and a.n_evals == b.n_evals


def test_run_auto_chooses_below_batch_and_equals_fixed_chunk(three_lane_budget, chunk_three):
    auto = slicens.run(wide_loglike, PRIOR, memory_budget=three_lane_budget, **RUN)
    assert auto.memory["mode"] == "auto"
    assert auto.memory["chunk_size"] == 3
    assert auto.memory["compiled_peak"] <= three_lane_budget
    assert set(auto.memory["measured"]) == {8, 2}  # two compilations for the choice
    assert_same_run(auto, chunk_three)


def test_run_budget_too_small_raises_before_sampling():
    with pytest.raises(ValueError, match=r"memory_budget of 1.00 MiB .* per lane"):
        slicens.run(wide_loglike, PRIOR, memory_budget="1MB", **RUN)


def test_default_is_auto_and_reports_compile_time():
    first = slicens.run(lambda x: -jnp.sum(x**2), PRIOR, n_live=30, num_delete=6, seed=1,
                        max_iterations=5)
    assert first.memory["mode"] == "auto" and first.memory["chunk_size"] == 6
    assert "default 80%" in first.memory["budget_source"]
    assert set(first.memory["measured"]) == {6}  # the whole batch fit: no extra compilation
    assert first.memory["compiled_peak"] >= first.memory["measured"][6]
    assert 0 < first.compile_time < first.wall_time
    assert first.sampling_time == pytest.approx(first.wall_time - first.compile_time)


# --- an explicit chunk_size checked against the budget or the device ----------------------


def test_explicit_chunk_over_the_budget_runs_at_the_auto_choice(three_lane_budget,
                                                                 chunk_three, caplog):
    """Reported before sampling (chunk, peak, limit, auto's choice), then run at auto's
    chunk: the same run as one started there."""
    caplog.set_level("WARNING", logger="slicens")
    out = slicens.run(wide_loglike, PRIOR, chunk_size=8, memory_budget=three_lane_budget,
                      **RUN)
    [event] = out.memory["history"]
    assert event["stage"] == "before sampling" and event["chunk_size"] == 3
    assert out.memory["mode"] == "fixed" and out.memory["requested_chunk_size"] == 8
    assert out.memory["chunk_size"] == 3 and out.memory["limit"] == three_lane_budget
    assert out.memory["compiled_peak"] <= three_lane_budget
    [warning] = [r.getMessage() for r in caplog.records if "compiles to a peak" in r.getMessage()]
    assert "chunk_size=8 compiles to a peak of" in warning
    assert f"the memory_budget={three_lane_budget!r}" in warning
    assert "running with chunk_size=3 instead" in warning
    assert_same_run(out, chunk_three)


def test_explicit_chunk_over_the_device_limit(monkeypatch, three_lane_budget, chunk_three):
    """Without a budget the limit is the device's free memory (injected here: a CPU
    has plenty); the fallback is auto's choice under its default 80% of it."""
    free = int(three_lane_budget / 0.8) + 1
    monkeypatch.setattr(slicens.host.memory, "free_memory", lambda: (free, "injected limit"))
    out = slicens.run(wide_loglike, PRIOR, chunk_size=8, **RUN)
    assert out.memory["limit"] == free and "injected limit" in out.memory["limit_source"]
    assert out.memory["chunk_size"] == 3 and "default 80%" in out.memory["budget_source"]
    assert_same_run(out, chunk_three)


def test_explicit_chunk_that_fits_is_kept():
    out = slicens.run(wide_loglike, PRIOR, chunk_size=4, memory_budget="1GB", **RUN)
    assert out.memory["chunk_size"] == 4 and out.memory["history"] == []
    assert out.memory["compiled_peak"] <= out.memory["limit"] == GiB


def test_explicit_chunk_when_no_chunk_fits_raises_before_sampling():
    with pytest.raises(ValueError, match=r"chunk_size=8 compiles to a peak of .* more than "
                                         r"1.00 MiB.*no smaller chunk fits either"):
        slicens.run(wide_loglike, PRIOR, chunk_size=8, memory_budget="1MB", **RUN)


def test_bad_chunk_string():
    with pytest.raises(ValueError, match="chunk_size='big'"):
        slicens.run(wide_loglike, PRIOR, chunk_size="big", **RUN)


def test_budget_as_fraction_uses_free_memory(monkeypatch):
    free, source = slicens.host.memory.free_memory(jax.devices()[0])
    assert free > 0 and source  # the machine's figure exists; its value moves, so:
    monkeypatch.setattr(slicens.host.memory, "free_memory", lambda: (12_345, "injected"))
    assert parse_budget("50%") == 6_172  # a percentage of what free_memory reports


def test_a_backend_without_memory_analysis_is_said(monkeypatch, caplog):
    """Where XLA gives no memory analysis: auto refuses with the reason, an explicit chunk
    runs unchecked with a warning (no silent zero peak)."""
    import slicens.host.compiled

    monkeypatch.setattr(slicens.host.compiled, "memory_of", lambda compiled: None)

    def loglike(x):  # a new function: no program cached with a real memory analysis
        return -jnp.sum(x**2)

    with pytest.raises(RuntimeError, match="needs XLA's compiled memory analysis.*integer"):
        slicens.run(loglike, PRIOR, **RUN)
    caplog.set_level("WARNING", logger="slicens")
    # the whole batch: the block auto compiled above, and found without analysis
    out = slicens.run(loglike, PRIOR, chunk_size=RUN["num_delete"], **RUN)
    assert out.memory["compiled_peak"] is None
    assert out.memory["chunk_size"] == RUN["num_delete"]
    assert any("cannot be checked" in r.getMessage() for r in caplog.records)
