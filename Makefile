# The two set-up commands of README.md: `make app` and `make test`.
# Both create .venv and install everything on first use (re-done when requirements change).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: app test

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -r requirements-dev.txt
	$(BIN)/python -m pip install --no-deps -e .
	touch $@

app: $(STAMP)
	$(BIN)/python app.py $(ARGS)

# pytest exit code 5 means "no tests collected": a broken suite, never a pass.
test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc
