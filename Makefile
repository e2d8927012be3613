# Two commands set everything up on a fresh machine (python3 >= 3.10 and make):
#   make book   render the book into _build/html
#   make test   lint, unit/reference/property tests, the strict book build, and checks of the HTML
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VENV7 := .venv-ipywidgets7
STAMP7 := $(VENV7)/.installed
# This machine's pip config names local indexes that may be absent; hide that noise only.
PIP_FILTER := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
# make book/test set this: the kernel that runs the notebooks inherits it and adds each
# widget's kernel-free static form. Jupyter and Colab never pay for it.
# The chapters execute in parallel, one per core (tools/build_book.py), so each kernel
# keeps to one thread: two kernels with two threads each on two cores thrash.
BUILD_ENV := LESSONS_STATIC_WIDGETS=1 PYTHONHASHSEED=0 OMP_NUM_THREADS=1
JB := $(BUILD_ENV) $(BIN)/python tools/build_book.py . --keep-going
# The book is rebuilt, with every notebook executed afresh (--all), whenever any of these
# changed; with nothing changed, `make book` returns at once.
BOOK_SOURCES := _config.yml _toc.yml pyproject.toml $(wildcard book/*) $(wildcard _ext/static/*) \
	$(shell find lessons_lib tools _ext -name '*.py' -not -path '*/__pycache__/*' -not -path '*/node_modules/*')
# Pinned third-party browser assets (MathJax) that the built site serves itself, so pages
# need no CDN: npm installs them from tools/vendor/package-lock.json (never committed), and
# _ext/lessons_book.py copies them into _build/html during the build.
VENDOR_STAMP := tools/vendor/node_modules/.installed
BOOK_STAMP := _build/html/.built

.PHONY: help setup book test lint unit build-strict book-tests widgets-ipywidgets7 bench clean

help:
	@echo "make book   render the book into _build/html"
	@echo "make test   run every check (lint, tests, strict build, HTML checks)"
	@echo "make bench  measure build, notebook, widget and training speed (prints a table)"

# (Re)create .venv when it is missing or requirements.txt / pyproject.toml changed.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt $(PIP_FILTER)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e . $(PIP_FILTER)
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 > /dev/null
	@touch $@

$(STAMP7): requirements-ipywidgets7.txt pyproject.toml
	@test -x $(VENV7)/bin/python || $(PYTHON) -m venv $(VENV7)
	$(VENV7)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-ipywidgets7.txt $(PIP_FILTER)
	$(VENV7)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e . $(PIP_FILTER)
	@touch $@

$(VENDOR_STAMP): tools/vendor/package.json tools/vendor/package-lock.json
	npm ci --prefix tools/vendor --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(STAMP) $(VENDOR_STAMP)

# One strict build serves both `make book` and `make test`, so no notebook runs twice.
$(BOOK_STAMP): $(STAMP) $(VENDOR_STAMP) $(BOOK_SOURCES)
	@rm -f $@
	$(JB) --all -W -n
	@touch $@

book: $(BOOK_STAMP)
	@echo
	@echo "The book is ready: open file://$(CURDIR)/_build/html/index.html"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: $(STAMP)
	$(BIN)/python -m pytest -m "not book" -q

build-strict: $(BOOK_STAMP)

# Static HTML checks, then every page in headless Chromium (tests/test_browser.py:
# requests, errors, math, images, widgets, launch buttons, 375 px; screenshots go to
# _build/screenshots/). .ci/run installs chromium; locally the browser tests skip without it.
book-tests: $(STAMP)
	REQUIRE_BOOK=1 $(BIN)/python -m pytest -m book -q

widgets-ipywidgets7: $(STAMP7)
	$(VENV7)/bin/python -m pytest -m widgets -q -p no:cacheprovider

test: lint unit widgets-ipywidgets7 build-strict book-tests
	@echo "make test: every check passed"

# Speed is measured here, never asserted by tests: prints a table, writes _build/bench.json.
# Chapters are timed as a reader runs them (live widgets, default threads); the book builds
# are timed as `make book` runs them.
bench: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf _build
