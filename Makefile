# orderflow: the two commands of the README, and their parts.
#   make dev    install everything, then run the local stack (Ctrl-C stops it)
#   make test   install everything, lint and type-check, then run the whole test suite (fault tests included, ~17 min)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SOURCES := $(shell find core agents bench gateway schemas tables broker simulator -type f \( -name '*.py' -o -name '*.avsc' -o -name '*.xml' -o -name '*.properties' -o -name '*.yml' -o -name '*.json' -o -name '*.html' -o -name '*.js' -o -name '*.css' \) 2>/dev/null)

.PHONY: prometheus browser install install-python dev dev-observe test test-cluster test-fast test-unit test-chaos lint typecheck check messages docs constraints clean

# The Python side (no JDK needed) and then Kafka's jars (JDK and Maven).
install: $(VENV)/.installed
install-python: $(VENV)/.python-installed

# Two distributions, both editable: the service (pyproject.toml) and, beside
# it, the development tools (devtools/pyproject.toml: bench, broker, simulator).
$(VENV)/.python-installed: pyproject.toml devtools/pyproject.toml constraints.txt $(SOURCES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]' -e ./devtools --config-settings editable_mode=strict
	touch $@

$(VENV)/.installed: $(VENV)/.python-installed
	@command -v java >/dev/null || { echo "JDK 17+ is required (java not found)"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is required (mvn not found)"; exit 1; }
	$(BIN)/python -c "from pathlib import Path; from orderflow.broker import ensure_jars; ensure_jars(Path('run'))"
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || $(MAKE) prometheus
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || $(MAKE) browser
	touch $@

# Prometheus and promtool (the alert rules' tests, `orderflow dev --observe`): Debian's packages.
prometheus:
	@if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    prometheus prometheus-alertmanager >/dev/null; \
	else echo "Prometheus is required: as root, apt-get install prometheus prometheus-alertmanager"; exit 1; fi

# Headless Chromium and its WebDriver (the pages' browser tests): Debian's packages.
browser:
	@if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium chromium-driver fonts-dejavu-core >/dev/null; \
	else echo "Chromium is required for the browser tests: as root, apt-get install chromium chromium-driver"; exit 1; fi

dev: install
	$(BIN)/orderflow dev

# the same, watched: Prometheus with the alert rules, Alertmanager, the trace sink
dev-observe: install
	$(BIN)/orderflow dev --observe

test: install check
	$(BIN)/python -m pytest

# The multi-host test (tests/cluster: 3 brokers, 4 workers and the gateway in network
# namespaces of their own, as root; loopback addresses 127.0.0.x elsewhere); longer than CI allows.
test-cluster: install
	ORDERFLOW_CLUSTER_TEST=1 $(BIN)/python -m pytest tests/cluster -s

# Pure tests only: no broker, so no JDK or Maven either (seconds).
test-unit: install-python
	$(BIN)/python -m pytest tests/unit

# ruff (rules in pyproject.toml) and mypy (strict on tables/ and schemas/).
lint: install-python
	$(BIN)/ruff check .

typecheck: install-python
	$(BIN)/mypy

check: lint typecheck

# Regenerate schemas/messages.py (the TypedDicts) after changing an .avsc file.
messages: install-python
	$(BIN)/python -m orderflow.schemas.typegen > schemas/messages.py.new
	mv schemas/messages.py.new schemas/messages.py

# Everything but the fault tests (about 5 min).
test-fast: install
	$(BIN)/python -m pytest -m 'not chaos'

# Only the worker, broker, payment provider and duplicate-input faults during
# streams of orders, each followed by the invariant checker (about 14 min on 2
# cores; part of `make test`). ORDERFLOW_SOAK=1 for ten times longer streams.
test-chaos: install
	$(BIN)/python -m pytest -m chaos -s tests/reliability

# Rewrite the docs' blocks generated from the catalog (README's topic table,
# docs/architecture.md's map); tests/unit/test_docs.py fails while they lag.
docs: install-python
	$(BIN)/python -m orderflow.docs .

# Re-pin every dependency to what a fresh resolve picks today.
constraints:
	rm -rf .constraints-venv && $(PYTHON) -m venv .constraints-venv
	.constraints-venv/bin/python -m pip install -q '.[test]' ./devtools
	.constraints-venv/bin/python -m pip freeze --exclude orderflow --exclude orderflow-devtools > constraints.txt
	rm -rf .constraints-venv

clean:
	rm -rf $(VENV) build run *.egg-info devtools/build devtools/*.egg-info
