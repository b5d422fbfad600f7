# A newcomer's commands: `make demo` and `make test` (both set everything up first).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export GX_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: setup demo test dev lint format bench audit clean browser

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: these machines keep its CPU wheel locally; unpinned, pip pulls GBs of CUDA.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	touch $(STAMP)

$(DAGSTER_HOME)/dagster.yaml: config/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp config/dagster.yaml $@

setup: $(STAMP) $(DAGSTER_HOME)/dagster.yaml

demo: setup
	$(BIN)/python -m synth_platform.demo

# The related-table demo schema (issue 18): landing files of five generated tables, the schema's
# governed chain and its dbt models, into the same warehouse and Dagster instance as `make demo`.
.PHONY: demo-relational
demo-relational: setup
	$(BIN)/python -m synth_platform.demo_relational

test: setup
	$(BIN)/python -m pytest

dev: setup
	$(BIN)/python -m synth_platform.lib.demo_data
	# owner-only files (the instance's event log and run storage) whatever the shell's umask
	umask 077 && $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# Debian's Chromium for the UI test (synth_platform_tests/test_ui_browser.py); needs root or sudo.
browser:
	test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	$(BIN)/python -m synth_platform.bench

# The privacy audit anyone can run: neighbouring sources through the chain, and an empirical lower
# bound on epsilon (synth_platform/audit.py). About 12 minutes on 2 cores.
audit: setup
	$(BIN)/python -m synth_platform.audit

# Never deletes the platform key: it lives outside the checkout (~/.config/synth_platform/secrets, or
# SYNTH_SECRETS_DIR); a key file found under what clean removes (an older version's) stops clean instead.
clean:
	@found=$$(find $(DAGSTER_HOME) data -name pseudonym.key 2>/dev/null); if [ -n "$$found" ]; then \
	  echo "make clean stopped: $$found is the platform key; losing it changes every pseudonym and model." >&2; \
	  echo "Move it to ~/.config/synth_platform/secrets/pseudonym.key (mode 0600), then run make clean again." >&2; \
	  exit 1; fi
	rm -rf $(VENV) $(DAGSTER_HOME) data/*.duckdb* data/landing data/quarantine data/models data/evidence data/bench

# Landing files of the demo's shape for the scale bench, streamed in chunks (synth_platform/bench/data.py),
# cached under data/bench/landing/: `make bench-data ROWS=10000000` (~2.3 GB; a few minutes on 2 cores).
ROWS ?= 10000000
.PHONY: bench-data bench-scale
bench-data: setup
	$(BIN)/python -m synth_platform.bench.data --rows $(ROWS)

# Only the scale bench (real Dagster runs per size; SCALE_ROWS=50000 for a quick look). `make bench` runs it too.
# SCALE_REPEAT=3 measures each size three times and reports medians and the spread of the overhead ratio.
SCALE_ROWS ?= 50000,1000000,10000000
SCALE_REPEAT ?= 1
bench-scale: setup
	$(BIN)/python -m synth_platform.bench.scale --rows $(SCALE_ROWS) --repeat $(SCALE_REPEAT)
