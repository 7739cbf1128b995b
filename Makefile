# The two commands of the README:
#   make book   build the whole site into _build/html (venv, install, data, execute chapters;
#               the Chinese edition from book-zh/ into _build/html/zh)
#   make test   run the whole test suite
# Both work from a fresh clone and are idempotent.

# The first Python >= 3.11 on PATH (3.11 first: the lock file is resolved for it).
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do \
  command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
  && { command -v $$p; break; }; done)
VENV   := .venv
BIN    := $(VENV)/bin
# Every package pinned with hashes (make lock). The lock is resolved on Linux x86-64; other
# systems (macOS) install the direct pins of requirements.txt instead.
ifeq ($(shell uname -s)-$(shell uname -m),Linux-x86_64)
REQUIREMENTS ?= requirements.lock
else
REQUIREMENTS ?= requirements.txt
endif
# Where the data sets live; chapters and tests read it. Override: make book DLCOURSE_DATA=/path
export DLCOURSE_DATA ?= $(CURDIR)/data
# An offline copy of the data sets, laid out instead of downloading when it exists.
SHARED_DATASETS ?= $(CURDIR)/../shared/datasets

.PHONY: book test browser env instructor-env lock data assets exercises clean

book: env data assets
	# Every interactive figure is driven through its controls once (dlcourse/widgets.py).
	DLCOURSE_CHECK_WIDGETS=1 $(BIN)/jupyter-book build . -W -n --keep-going
	# The Chinese edition (book-zh/, its own execution cache) into _build/html/zh/; its
	# figures need a font with Chinese glyphs (found, or installed: dlcourse/fonts.py).
	@$(BIN)/python -m dlcourse.fonts --obtain
	DLCOURSE_CHECK_WIDGETS=1 $(BIN)/jupyter-book build book-zh -W -n --keep-going
	rm -rf _build/html/zh && cp -R book-zh/_build/html _build/html/zh
	@$(BIN)/python scripts/zh-drift --behind

# The suite includes browser tests of the built site (tests/test_site.py) and of JupyterLab,
# so it first gets a browser (found, or installed: dlcourse/browser.py; else it stops at
# once with one instruction), then builds the book (jupyter-cache makes a rebuild of
# unchanged chapters quick).
test: browser book
	$(BIN)/python -m pytest

browser: env
	@$(BIN)/python -m dlcourse.browser --obtain

# The site's pinned third-party assets (MathJax), downloaded once with Python (no Node)
# and checksum-checked into _vendor/ (git-ignored); the book build does this too if needed.
assets: env
	$(BIN)/python -m dlcourse.sphinxext

env: $(VENV)/.installed

$(VENV)/.installed: $(REQUIREMENTS) pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 or newer is needed and none is on PATH (python3.11, python3.12, python3.13, python3): install it (Debian 12/Ubuntu 24.04: sudo apt-get install python3 python3-venv; macOS: brew install python@3.11) or run make PYTHON=/path/to/python3.11 ..."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q $(if $(filter %.lock,$(REQUIREMENTS)),--require-hashes) -r $(REQUIREMENTS)
	$(BIN)/python -m pip install -q --no-deps -e .
	# JupyterLab: chapters open as notebooks; nbgrader's instructor tools hidden (students)
	$(BIN)/python -m dlcourse.jupyter_setup student
	touch $@

# Instructors: the same environment with Formgrader, Create Assignment and Courses shown.
instructor-env: env
	$(BIN)/python -m dlcourse.jupyter_setup instructor

# Regenerate requirements.lock (every package, pinned, with hashes) after editing
# requirements.txt: resolves on PyPI with pip-tools in a throwaway venv.
lock:
	scripts/lock

data: env
	@if [ -x "$(SHARED_DATASETS)/install" ]; then "$(SHARED_DATASETS)/install" "$(DLCOURSE_DATA)"; fi
	$(BIN)/python -m dlcourse.data --download "$(DLCOURSE_DATA)"

# The graded exercises' student versions, regenerated from their sources in solutions/
# (never edit exercises/ by hand). Also records the tests in the gradebook for autograding.
# Then their Chinese edition, book-zh/exercises/, from exercises/ and the translations in
# book-zh/exercise-translations/ (dlcourse/exercises_zh.py; never edit it by hand either):
# it stops, naming the cell, when an English cell changed since its translation.
ASSIGNMENTS := perceptron mlp backprop activations convolution lenet5 cifar10

exercises: env
	for a in $(ASSIGNMENTS); do PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/nbgrader generate_assignment "$$a" --force --log-level=WARN || exit 1; done
	$(BIN)/python -m dlcourse.exercises_zh $(ASSIGNMENTS)

clean:
	rm -rf _build book-zh/_build test-artifacts

# Autograde one assignment, every submission in its own bubblewrap sandbox (dlcourse/grading/):
#   make grade A=perceptron [STUDENTS="alice bob"] [TIMEOUT=60] [MEMORY=2GiB] [WORKERS=1] [GRADE_FLAGS=--disk=512MiB]
# One bad submission never stops the batch; prints (and keeps in .grading/) a table of scores and problems.
# WORKERS=N grades N submissions at a time on a local Dask cluster (WORKERS=auto: one per core, as memory
# allows); GRADE_FLAGS=--scheduler=tcp://HOST:8786 uses an existing cluster. Rerunning a killed batch finishes it.
# TIMEOUT defaults to 60 s per submission (180 s for cifar10, whose hidden test retrains).
.PHONY: grade
MEMORY ?= 2GiB
WORKERS ?= 1
grade: env
	@test -n "$(A)" || { echo "usage: make grade A=<assignment> [STUDENTS=\"s1 s2\"] [TIMEOUT=60] [MEMORY=2GiB]"; exit 2; }
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m dlcourse.grading "$(A)" $(if $(STUDENTS),--student $(STUDENTS)) $(if $(TIMEOUT),--timeout $(TIMEOUT)) --memory $(MEMORY) --workers $(WORKERS) $(GRADE_FLAGS)
