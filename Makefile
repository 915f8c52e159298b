# Two commands for a new user on a fresh machine: `make demo` and `make test`.
# Both create ./.venv on first use. torch is installed pinned FIRST: the pinned
# CPU build is on local disk, while an unpinned torch pulls a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
TORCH_PIN ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: demo test test-slow lint clean docs bench

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

# The docs extra on top of the same .venv, torch already pinned by .installed.
$(BIN)/.installed-docs: $(BIN)/.installed setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[tests,docs]"
	touch $@

# HTML into docs/_build/html, running every example; warnings are errors. It
# needs no network (maths by a local MathJax). SKSMOOTH_DOCS_INTERSPHINX=1 make docs
# also links to other projects' documentation, downloading their inventories.
docs: $(BIN)/.installed-docs
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

# The benchmark peers (IBM ART, statsmodels) on top of the same .venv.
$(BIN)/.installed-bench: $(BIN)/.installed setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[tests,benchmarks]"
	touch $@

# sksmooth against the bare minimum, the reference algorithm and ART: one table.
bench: $(BIN)/.installed-bench
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info
