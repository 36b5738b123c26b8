# Two commands do all the set-up on a fresh machine:
#   make book   -> .venv, dependencies, executed notebooks, website in _build/html
#   make test   -> everything CI checks (lint, unit tests + doctests, nbval, structure, -W build)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg
# CPU-only runs. `make test` runs two jobs side by side on the 2 CI cores (the notebooks
# under nbval, and the book build that executes them again), so each job gets one BLAS /
# torch thread: oversubscribed threads on a loaded machine made numpy and torch calls
# orders of magnitude slower, not faster.
export OMP_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: help venv book test check lint unit notebooks structure book-strict site site-tests lab bench clean

help:
	@echo "make book   build the website into _build/html"
	@echo "make test   run every check CI runs"
	@echo "make check  quick loop: lint + unit tests"
	@echo "make lab    JupyterLab on the chapters"
	@echo "make bench  benchmarks (ours vs reference, ratios)"

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --keep-going
	@echo "Open: file://$(CURDIR)/_build/html/index.html"

lint: $(STAMP)
	$(BIN)/ruff check .

unit: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 src tests --ignore=tests/book --ignore=tests/site

notebooks: $(STAMP)
	$(BIN)/python -m pytest -q --nbval-lax --nbval-current-env -p no:randomly chapters

structure: $(STAMP)
	$(BIN)/python -m pytest -q tests/book

book-strict: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Open: file://$(CURDIR)/_build/html/index.html"

site: book-strict site-tests

site-tests: $(STAMP)
	$(BIN)/python -m pytest -q tests/site

check: lint unit

# nbval and the strict book build each execute every notebook; they run in parallel.
test: lint structure unit
	$(MAKE) -j2 --output-sync=target notebooks book-strict
	$(MAKE) site-tests

lab: $(STAMP)
	$(BIN)/jupyter lab chapters

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf _build
