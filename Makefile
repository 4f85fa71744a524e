# Two entry points (see README "Quick start"): `make demo` and `make test`.
# Both create .venv on first use and install recur with its dev tools, torch pinned by constraints.txt.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

demo: setup
	$(PY) -m recur.demo

test: setup
	$(PY) -m ruff check recur tests benchmarks
	$(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check recur tests benchmarks
	$(PY) -m ruff format --check recur tests benchmarks
