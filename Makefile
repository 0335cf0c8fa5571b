# Two commands do all the set-up on a fresh machine (Python >= 3.11):
#   make demo   - create .venv, install routerfix, run a full mitigation against the built-in simulated router
#   make test   - create .venv, install routerfix with test extras, run lint, type checks and the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/routerfix: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(BIN)/routerfix

demo: $(BIN)/routerfix
	$(BIN)/routerfix demo

test: $(BIN)/routerfix lint typecheck pytest

lint: $(BIN)/routerfix
	$(BIN)/ruff check routerfix drivers tests benchmarks examples

typecheck: $(BIN)/routerfix
	$(BIN)/mypy

pytest: $(BIN)/routerfix
	$(BIN)/pytest

bench: $(BIN)/routerfix
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build dist *.egg-info
