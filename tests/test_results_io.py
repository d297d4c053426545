"""Results on disk: Result.save / slicens.load round trip, refusal to overwrite."""

import dataclasses
import json

import numpy as np
import pytest

import slicens


def test_round_trip_is_exact(small_result, tmp_path):
    path = small_result.save(tmp_path / "run.npz")
    loaded = slicens.load(path)
    for field in dataclasses.fields(small_result):
        a, b = getattr(small_result, field.name), getattr(loaded, field.name)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg=field.name)
            assert a.dtype == b.dtype, field.name
        elif field.name == "memory":  # JSON keys are strings
            assert {str(k): v for k, v in a["measured"].items()} == b["measured"]
        else:
            assert a == b or (a != a and b != b), field.name
    assert loaded.summary() == small_result.summary()
    np.testing.assert_array_equal(loaded.equal_weight_samples(50),
                                  small_result.equal_weight_samples(50))


def test_refuses_to_overwrite(small_result, tmp_path):
    path = small_result.save(tmp_path / "run.npz")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        small_result.save(path)
    small_result.save(path, overwrite=True)
    assert slicens.load(path).logZ == small_result.logZ


def test_any_suffix_is_kept(small_result, tmp_path):
    path = small_result.save(tmp_path / "fit.result")
    assert path.name == "fit.result" and path.exists()


def test_not_a_result_file(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a slicens result file"):
        slicens.load(path)
    path.write_text("hello")
    with pytest.raises(ValueError, match="not a slicens result file"):
        slicens.load(path)


def test_a_file_from_before_adaptive_steps_loads(small_result, tmp_path):
    """Files written before num_inner_steps='auto' lack the per-iteration steps and jumps,
    and before tied ranks were ranked above the contour the rank counts; the diagnostics
    figure then takes every rank among all survivors, as those runs did."""
    from slicens import plots

    path = small_result.save(tmp_path / "new.npz")
    lacking = ("inner_steps_per_iteration", "jumps_per_iteration", "insertion_rank_counts")
    with np.load(path) as data:
        older = {k: data[k] for k in data.files if k not in lacking}
    np.savez(tmp_path / "old.npz", **older)
    loaded = slicens.load(tmp_path / "old.npz")
    assert loaded.inner_steps_per_iteration.size == 0 and loaded.logZ == small_result.logZ
    assert loaded.insertion_rank_counts.size == 0
    plots.diagnostics(loaded, tmp_path / "old.png")
    assert (tmp_path / "old.png").stat().st_size > 0


def test_a_file_from_before_the_rename_of_memory_test_loads(small_result, tmp_path):
    """``memory_test`` (the start-to-end rank correlation) is ``start_correlation_test``."""
    path = small_result.save(tmp_path / "new.npz")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    metadata = json.loads(str(arrays["metadata"]))
    metadata["memory_test"] = metadata.pop("start_correlation_test")
    arrays["metadata"] = np.array(json.dumps(metadata))
    np.savez(tmp_path / "old.npz", **arrays)
    loaded = slicens.load(tmp_path / "old.npz")
    assert loaded.start_correlation_test == small_result.start_correlation_test


def test_the_summary_names_its_estimator(small_result):
    assert "estimate: nested sampling" in small_result.summary()
    assert small_result.summary().startswith(f"logZ = {small_result.logZ:.3f}")
