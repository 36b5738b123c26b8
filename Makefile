# Two commands do all the set-up on a fresh machine:
#   make book   -> .venv, dependencies, executed notebooks, website in _build/html
#   make test   -> everything CI checks (lint, unit tests + doctests with coverage, nbval with
#                  notebook timings, structure, -W build)
# Contributor loops (CONTRIBUTING.md): make check, make chapter N=8, one test file with pytest.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONHASHSEED := 0
# No MPLBACKEND here: a notebook kernel that inherits MPLBACKEND=Agg draws every figure
# off-screen, so plt.show() outputs nothing and the book loses its figures. ipykernel picks
# the inline backend when the variable is unset; the unit tests below get Agg explicitly.
unexport MPLBACKEND
# CPU-only runs. `make test` runs two jobs side by side on the 2 CI cores (the notebooks
# under nbval, and the book build that executes them again), so each job gets one BLAS /
# torch thread: oversubscribed threads on a loaded machine made numpy and torch calls
# orders of magnitude slower, not faster.
export OMP_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: help venv book pdf test check lint unit notebooks chapter structure audit book-strict site site-tests lab bench clean

help:
	@echo "make book   build the website into _build/html"
	@echo "make test   run every check CI runs"
	@echo "make check  quick loop: lint + unit tests (no coverage)"
	@echo "make chapter N=8  execute one chapter notebook, time against its budget"
	@echo "make pdf    the whole book as one PDF: _build/pdf/handbook.pdf (builds the site first if needed)"
	@echo "make lab    JupyterLab on the chapters"
	@echo "make bench  benchmarks (ours vs reference, ratios)"
	@echo "make audit  which questions are answered, chapter by chapter"

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@# jupytext's JupyterLab front-end (1.4.6) is built against Lab 4.6's shared modules and fails
	@# to load in the pinned Lab 4.5 (a console error on every page). Chapters are authored with the
	@# jupytext command line, so Lab gets neither its front-end nor its contents manager.
	rm -rf $(VENV)/share/jupyter/labextensions/jupyterlab-jupytext
	$(BIN)/jupyter server extension disable --sys-prefix jupyterlab_jupytext >/dev/null
	touch $(STAMP)

venv: $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --keep-going
	@echo "Open: file://$(CURDIR)/_build/html/index.html"

lint: $(STAMP)
	$(BIN)/ruff check .

# Line + branch coverage of src/interviewlib (config in pyproject.toml); the floor sits a few
# points under what the suite reaches, so new code comes with tests. `make check` skips it.
COV_FLOOR := 94
COV ?= --cov --cov-report=term --cov-fail-under=$(COV_FLOOR)

unit: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -q -n 2 $(COV) src tests --ignore=tests/book --ignore=tests/site

# book_tools/timing.py (a pytest plugin) prints each notebook's time against its budget.
NBVAL := $(BIN)/python -m pytest -q --nbval-lax --nbval-current-env -p no:randomly -p book_tools.timing

notebooks: $(STAMP)
	$(NBVAL) chapters

# One chapter, the fast loop for a writer: make chapter N=8
chapter: $(STAMP)
	@test -n "$(N)" || { echo "usage: make chapter N=<chapter number>, e.g. make chapter N=8"; exit 2; }
	@n=$$(printf '%02d' $$((10#$(N)))) && nb=$$(ls chapters/ch$${n}_*.ipynb 2>/dev/null) \
	  || { echo "no notebook chapters/ch$${n}_*.ipynb (see chapters/questions.yml)"; exit 2; }; \
	  echo "$(NBVAL) $$nb"; $(NBVAL) $$nb

structure: $(STAMP)
	$(BIN)/python -m pytest -q tests/book
	$(BIN)/python -m book_tools.audit

audit: $(STAMP)
	$(BIN)/python -m book_tools.audit

book-strict: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Open: file://$(CURDIR)/_build/html/index.html"

# The website printed by headless Chromium, chapter by chapter, and joined (book_tools/pdf.py).
pdf: $(STAMP)
	@test -f _build/html/index.html || $(MAKE) book
	$(BIN)/python -m book_tools.pdf

site: book-strict pdf site-tests

site-tests: $(STAMP)
	$(BIN)/python -m pytest -q tests/site

check: COV :=
check: lint unit

# nbval and the strict book build each execute every notebook; they run in parallel.
test: lint structure unit
	$(MAKE) -j2 --output-sync=target notebooks book-strict
	$(MAKE) pdf
	$(MAKE) site-tests

lab: $(STAMP)
	@echo "JupyterLab opens on lab/start_here.ipynb (links to every chapter)."
	@echo "Stop it with Ctrl-C twice in this terminal, or File > Shut Down in Lab."
	$(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR) lab/start_here.ipynb

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf _build
