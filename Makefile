# orderflow: the two commands of the README, and their parts.
#   make dev    install everything, then run the local stack (Ctrl-C stops it)
#   make test   install everything, then run the whole test suite (fault tests included, ~18 min)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SOURCES := $(shell find core agents bench gateway schemas tables broker -type f \( -name '*.py' -o -name '*.avsc' -o -name '*.xml' -o -name '*.properties' \) 2>/dev/null)

.PHONY: install dev test test-fast test-unit test-chaos constraints clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt $(SOURCES)
	@command -v java >/dev/null || { echo "JDK 17+ is required (java not found)"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is required (mvn not found)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]' --config-settings editable_mode=strict
	$(BIN)/python -c "from pathlib import Path; from orderflow.broker import ensure_jars; ensure_jars(Path('run'))"
	touch $@

dev: install
	$(BIN)/orderflow dev

test: install
	$(BIN)/python -m pytest

test-unit: install
	$(BIN)/python -m pytest tests/unit

# Everything but the fault tests (about 4 min).
test-fast: install
	$(BIN)/python -m pytest -m 'not chaos'

# Only the worker, broker, payment provider and duplicate-input faults during
# streams of orders, each followed by the invariant checker (about 14 min on 2
# cores; part of `make test`). ORDERFLOW_SOAK=1 for ten times longer streams.
test-chaos: install
	$(BIN)/python -m pytest -m chaos -s tests/reliability

# Re-pin every dependency to what a fresh resolve picks today.
constraints:
	rm -rf .constraints-venv && $(PYTHON) -m venv .constraints-venv
	.constraints-venv/bin/python -m pip install -q '.[test]'
	.constraints-venv/bin/python -m pip freeze --exclude orderflow > constraints.txt
	rm -rf .constraints-venv

clean:
	rm -rf $(VENV) build run *.egg-info
