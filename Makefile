# Two commands do all the set-up on a fresh machine (Python >= 3.11):
#   make demo   - create .venv, install routerfix, run a full mitigation against the built-in simulated router
#   make test   - create .venv, install routerfix with test extras, run lint, type checks and the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lab-deps lint typecheck pytest bench clean

# The demo needs routerfix and its simulators only; the tests add their extras on top.
$(BIN)/routerfix: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[sim]'
	touch $(BIN)/routerfix

TESTDEPS := $(VENV)/.test-deps
$(TESTDEPS): $(BIN)/routerfix
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TESTDEPS)

demo: $(BIN)/routerfix
	$(BIN)/routerfix demo --driver netgear

test: $(TESTDEPS) lab-deps lint typecheck pytest

# The ghost-call lab needs real nftables, dnsmasq, sshd, sipp... (Debian packages, no services started).
# Installed only when running as root; otherwise the lab tests skip and say why.
lab-deps: $(TESTDEPS)
	@if [ "$$(id -u)" = "0" ] && [ -x tests/lab/INSTALL.sh ]; then tests/lab/INSTALL.sh $(BIN)/python; \
	else echo "lab-deps: not root (or no tests/lab/INSTALL.sh): the namespace lab tests will skip"; fi

lint: $(TESTDEPS)
	$(BIN)/ruff check routerfix drivers simulators tests benchmarks examples ansible_collections

typecheck: $(TESTDEPS)
	$(BIN)/mypy

pytest: $(TESTDEPS)
	$(BIN)/pytest

bench: $(TESTDEPS)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info
