# The two commands of the README:
#   make book   build the whole site into _build/html (venv, install, data, execute chapters)
#   make test   run the whole test suite
# Both work from a fresh clone and are idempotent.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# Where the data sets live; chapters and tests read it. Override: make book DLCOURSE_DATA=/path
export DLCOURSE_DATA ?= $(CURDIR)/data
# An offline copy of the data sets, laid out instead of downloading when it exists.
SHARED_DATASETS ?= $(CURDIR)/../shared/datasets

.PHONY: book test env data exercises clean

book: env data
	$(BIN)/jupyter-book build . -W -n --keep-going

test: env data
	$(BIN)/python -m pytest

env: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

data: env
	@if [ -x "$(SHARED_DATASETS)/install" ]; then "$(SHARED_DATASETS)/install" "$(DLCOURSE_DATA)"; fi
	$(BIN)/python -m dlcourse.data --download "$(DLCOURSE_DATA)"

clean:
	rm -rf _build
