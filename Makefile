# The two commands of the README: `make demo` and `make test`. Both create .venv with the
# system python3 (3.11 or newer) and install slicens into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?= -m "not slow"
# Tests run in parallel processes, a group of test files per process at a time (their shared
# runs and compiled programs stay shared: tests/conftest.py); compilation dominates.
PYTEST_WORKERS ?= 2
PYTEST := -m pytest -n $(PYTEST_WORKERS) --dist loadfile

# The jax 0.11 line (Python >= 3.12, autofit 2026.10, PyAutoLens): the tests whose
# behaviour depends on those versions, in a second venv. CI runs both.
PYTHON312 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) \
                         $(shell command -v python3.12 2>/dev/null))
VENV312 ?= .venv312
PY312_TESTS ?= tests/test_platform.py tests/test_autofit.py tests/test_checkpoint.py \
               tests/test_devices.py tests/test_jax_config.py

.PHONY: demo test test-all test-slow test-py312 test-py312-all lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python examples/lens_demo.py

test: $(BIN)/.installed
	$(BIN)/python $(PYTEST) $(PYTEST_ARGS)

test-all: PYTEST_ARGS =
test-all: test

# only the tests marked slow (full invariance matrices, peer runs on the lens, resources)
test-slow: PYTEST_ARGS = -m slow
test-slow: test

$(VENV312)/bin/.installed: pyproject.toml
	@test -n "$(PYTHON312)" || { echo "test-py312: no python3.12 found (set PYTHON312=...)"; exit 1; }
	$(PYTHON312) -m venv $(VENV312)
	$(VENV312)/bin/python -m pip install --quiet --upgrade pip
	$(VENV312)/bin/python -m pip install --quiet -e ".[test,lens]"
	touch $@

test-py312: $(VENV312)/bin/.installed
	$(VENV312)/bin/python $(PYTEST) $(PYTEST_ARGS) $(PY312_TESTS)

# the same files with their slow tests too (lens bit-identity on 1, 2 and 4 devices,
# resume across device and process counts, Nautilus on the PyAutoFit model): CI runs this
test-py312-all: PYTEST_ARGS =
test-py312-all: test-py312

lint: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet ruff
	$(BIN)/ruff check slicens tests examples benchmarks

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/accuracy.py
	$(BIN)/python benchmarks/lens_chunks.py
	$(BIN)/python benchmarks/memory.py
	$(BIN)/python benchmarks/brackets.py
	$(BIN)/python benchmarks/vs_nautilus.py --problems gaussian_5d shells_2d mixture_5d shells_10d

clean:
	rm -rf $(VENV) $(VENV312) *.egg-info .pytest_cache
