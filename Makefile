# Two entry points (see README "Quick start"): `make demo` and `make test`.
# Both create .venv on first use and install recur with its dev tools, torch pinned by constraints.txt.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_RUN ?= runs/demo

.PHONY: setup demo test lint experiments

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# The main job: train the default character language model (~2 minutes), then stream a sample.
demo: setup
	$(VENV)/bin/recur train --run-dir $(DEMO_RUN) --overwrite
	$(VENV)/bin/recur generate $(DEMO_RUN) --prompt "The " --max-new-tokens 300 --seed 0

test: setup
	$(PY) -m ruff check recur tests benchmarks
	$(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check recur tests benchmarks
	$(PY) -m ruff format --check recur tests benchmarks

# Reruns the BPTT experiments with fixed seeds and rewrites docs/experiments (10-20 minutes).
experiments: setup
	$(VENV)/bin/recur experiment all
