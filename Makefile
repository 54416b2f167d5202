# crm_management: Freshsales -> dlt -> raw -> dbt -> marts.
# Every target is idempotent; `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SPARK_VENV ?= .venv-spark
SPARK_STAMP := $(SPARK_VENV)/.installed
# requirements*.txt name the direct requirements; the locks pin every package with its
# hashes. `make setup` installs the locks, `make lock` compiles them again.
LOCK := requirements.lock
SPARK_LOCK := requirements-spark.lock
PIP_INSTALL := python -m pip install --quiet --disable-pip-version-check
PIP_TOOLS := pip-tools==7.6.2
# `make lock LOCK_ARGS=--upgrade` (or `--upgrade-package dlt`) moves pins forward;
# without it the pins of the current locks are kept where requirements*.txt allow.
LOCK_ARGS ?=
# `make test` runs the Spark comparison when Java is here (it installs
# .venv-spark first); without Java those tests skip and say why.
HAVE_JAVA := $(shell command -v java 2>/dev/null)
OUT ?= out
SCALE ?=
# `make dashboard PORT=8502` serves the dashboard on another port.
PORT ?= 8501

# A .env at the root configures make's commands as it configures the extractor,
# so `make build` (dbt) sees the same DBT_TARGET, DUCKDB_PATH and PG* values.
ifneq (,$(wildcard .env))
include .env
export $(shell sed -n 's/^\([A-Z_][A-Z0-9_]*\)=.*/\1/p' .env)
endif

export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export RUNTIME__DLTHUB_TELEMETRY := false
export DO_NOT_TRACK := 1

# Recipes that write the CRM's data run under `umask 077`, so what they create (the
# DuckDB file, dlt's working files, dbt's target/ and logs/, exports) is the owner's only:
# files 0600, folders 0700. Each recipe line is its own shell, hence one per line.
PRIVATE := umask 077 &&

.PHONY: help setup setup-spark setup-browser lock sandbox extract build build-spark demo dashboard screenshots test lint docs export bench clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}'

# Every package from the lock, hash-checked; then the project itself, editable (`crm`).
$(STAMP): $(LOCK) pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/$(PIP_INSTALL) --require-hashes -r $(LOCK)
	$(VENV)/bin/$(PIP_INSTALL) --no-deps --no-build-isolation -e .
	@touch $(STAMP)

profiles.yml: profiles.example.yml
	@test -f profiles.yml || cp profiles.example.yml profiles.yml
	@echo "profiles.yml ready (edit it or set DBT_TARGET / PG* / DUCKDB_PATH)"

setup: $(STAMP) profiles.yml ## Create .venv, install requirements.lock and the project (`crm`), write profiles.yml

$(SPARK_STAMP): $(SPARK_LOCK)
	@test -x $(SPARK_VENV)/bin/python || python3 -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/$(PIP_INSTALL) --require-hashes -r $(SPARK_LOCK)
	@touch $(SPARK_STAMP)

setup-spark: setup $(SPARK_STAMP) ## Create .venv-spark from requirements-spark.lock (needs Java 17/21; ~600 MB)

lock: ## Compile requirements*.txt into requirements*.lock (all packages, hashed; needs PyPI)
	@test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/$(PIP_INSTALL) $(PIP_TOOLS)
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe \
	    --no-strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS) \
	    --output-file $(LOCK) requirements.txt
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe \
	    --no-strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS) \
	    --output-file $(SPARK_LOCK) requirements-spark.txt

sandbox: setup ## Run the sandbox CRM in the foreground (ARGS="--deals 100000 --port 8080")
	$(PY) -m extract.sandbox $(ARGS)

extract: setup ## Extract the CRM (or the demo sandbox when CRM_BASE_URL is unset) into raw
	$(PRIVATE) $(PY) -m extract run $(ARGS)

build: setup ## dbt build: raw -> staging -> intermediate -> marts, with all tests
	$(PRIVATE) $(BIN)/dbt build --target $${DBT_TARGET:-duckdb}

build-spark: setup-spark ## Demo sandbox -> Parquet files (RAW_PARQUET_URL) -> dbt build --target spark
	$(PRIVATE) $(PY) -m extract run --destination filesystem $(ARGS)
	$(PRIVATE) SPARK_LOCAL_IP=$${SPARK_LOCAL_IP:-127.0.0.1} $(SPARK_VENV)/bin/dbt build --target spark

demo: setup ## The main job end to end on DuckDB against the demo sandbox, then a summary of the marts
	$(PRIVATE) $(PY) -m extract.demo

dashboard: setup ## Serve the dashboard over the marts on http://127.0.0.1:PORT (default 8501)
	@echo "Dashboard: http://127.0.0.1:$(PORT)  (Ctrl-C stops it)"
	$(BIN)/streamlit run dashboards/app.py --server.headless true \
	    --server.address 127.0.0.1 --server.port $(PORT) \
	    --browser.gatherUsageStats false --client.toolbarMode viewer

screenshots: setup setup-browser ## Regenerate docs/screenshots/*.png, one per dashboard page (after `make demo`)
	$(PY) -m dashboards.browser --out docs/screenshots

# Debian's Chromium for the browser tests and `make screenshots` (Playwright drives it;
# its own browser download is never used), with a CJK font for names such as the
# sandbox's 王芳. Installed with apt when missing and this is root; otherwise the
# browser tests skip and say why (REQUIRE_BROWSER=1 fails them).
setup-browser: ## Install Debian's chromium when missing (apt, as root); else say how
	@if command -v chromium >/dev/null 2>&1; then \
	    echo "chromium: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (apt-get)"; \
	    apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; \
	else \
	    echo "note: no chromium; browser tests skip (sudo apt-get install chromium)"; \
	fi

test: setup lint setup-browser $(if $(HAVE_JAVA),setup-spark,) ## Lint, then every test (sandbox, extractor, dbt on DuckDB, PostgreSQL and Spark, tools)
	$(BIN)/pytest -q tests

lint: setup ## ruff and mypy on the Python, sqlfluff on the dbt models
	$(BIN)/ruff check extract tests bench dashboards
	$(BIN)/mypy extract dashboards
	$(BIN)/sqlfluff lint dbt_project/models dbt_project/data-tests dbt_project/analyses --processes 2

docs: setup ## Generate the dbt docs site (also target/static_index.html) and serve it on http://localhost:8081
	$(PRIVATE) $(BIN)/dbt docs generate --static --target $${DBT_TARGET:-duckdb}
	@echo "One-file site to mail or host: $(CURDIR)/target/static_index.html"
	$(PRIVATE) $(BIN)/dbt docs serve --port 8081 --host 127.0.0.1 --no-browser

export: setup ## Export the marts to OUT=DIR as json, csv and parquet
	$(PRIVATE) $(PY) -m extract export --out $(OUT) --format json,csv,parquet

bench: setup ## Measure the pipeline at scale (SCALE=1000000 for the big run); writes bench/results.md
	$(PY) -m bench $(if $(SCALE),--scale $(SCALE),)

clean: ## Remove build output and the local DuckDB file (keeps .venv)
	rm -rf target logs dbt_packages .dlt/pipelines crm.duckdb crm.duckdb.wal data/raw_parquet
