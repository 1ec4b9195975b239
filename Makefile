# Set-up for the two commands of README.md: `make app` and `make setup && .venv/bin/python -m pytest`.
# `setup` creates .venv and installs everything on first use (re-done when requirements change).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: app setup

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -r requirements-dev.txt
	$(BIN)/python -m pip install --no-deps -e .
	touch $@

app: $(STAMP)
	$(BIN)/python app.py $(ARGS)
