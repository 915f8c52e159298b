# Two commands for a new user on a fresh machine: `make demo` and `make test`.
# Both create ./.venv on first use. torch is installed pinned FIRST: the pinned
# CPU build is on local disk, while an unpinned torch pulls a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
TORCH_PIN ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: demo test test-slow lint clean

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_PIN)
	$(BIN)/python -m pip install --quiet -e ".[tests]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python -m sksmooth demo

test: $(BIN)/.installed
	$(BIN)/python -m ruff check sksmooth tests examples benchmarks
	$(BIN)/python -m pytest

test-slow: $(BIN)/.installed
	$(BIN)/python -m pytest -m slow

clean:
	rm -rf $(VENV) build *.egg-info
