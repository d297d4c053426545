# The two commands of the README: `make demo` and `make test`. Both create .venv with the
# system python3 (3.11 or newer) and install slicens into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?= -m "not slow"

.PHONY: demo test test-all lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python examples/lens_demo.py

test: $(BIN)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-all: PYTEST_ARGS =
test-all: test

lint: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet ruff
	$(BIN)/ruff check slicens tests examples benchmarks

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/accuracy.py
	$(BIN)/python benchmarks/lens_chunks.py
	$(BIN)/python benchmarks/memory.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
