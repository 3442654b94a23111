# Every target installs what it needs first; a fresh clone needs only Python 3.11 and make.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SAMPLE_EVENTS ?= 200000

.PHONY: install run test test-dbt test-python lint bench clean chromium bi test-bi logrotate test-orchestrators java test-spark bench-spark

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/event-analytics generate --out data/landing --events $(SAMPLE_EVENTS) --faults 0.01 --if-empty
	$(BIN)/event-analytics run --dev-key

# dbt unit and data tests on a throwaway warehouse built from a small generated landing folder.
test-dbt: $(STAMP)
	rm -rf .test/dbt && mkdir -p .test/dbt
	$(BIN)/event-analytics generate --out .test/dbt/landing --events 20000 --faults 0.02
	$(BIN)/event-analytics run --dev-key --unit-tests --landing .test/dbt/landing --warehouse .test/dbt/events.duckdb

test-python: $(STAMP) chromium
	$(BIN)/python -m pytest -n auto

# The browser tests use Debian's Chromium (Playwright's own download cannot reach its host here).
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The Evidence dashboard (bi/): its source queries read the serving copy's Parquet files,
# $EVENT_ANALYTICS_SERVING_DIR or warehouse/serving; the static site goes to bi/build.
BI_SERVING_DIR = $(abspath $(or $(EVENT_ANALYTICS_SERVING_DIR),warehouse/serving))

bi: bi/node_modules/.npm-ci-stamp
	cd bi && EVENT_ANALYTICS_SERVING_DIR='$(BI_SERVING_DIR)' npm run sources
	cd bi && npm run build

bi/node_modules/.npm-ci-stamp: bi/package.json bi/package-lock.json
	cd bi && npm ci
	touch $@

# The dashboard in headless Chromium, on a small warehouse built for it in .test/bi (it rebuilds
# bi/build from that one); screenshots in .test/screenshots/bi-<page>.png.
test-bi: $(STAMP) chromium
	rm -rf .test/bi && mkdir -p .test/bi
	$(BIN)/event-analytics generate --out .test/bi/landing --events 20000 --faults 0.01
	$(BIN)/event-analytics run --dev-key --landing .test/bi/landing --warehouse .test/bi/warehouse/events.duckdb --serving .test/bi/serving
	$(MAKE) --no-print-directory bi EVENT_ANALYTICS_SERVING_DIR=$(CURDIR)/.test/bi/serving
	EVENT_ANALYTICS_SERVING_DIR=$(CURDIR)/.test/bi/serving $(BIN)/python -m pytest tests/bi

# The scheduler examples (examples/): Airflow in the project's venv (extra `airflow`), Dagster in a venv of
# its own (dagster-dbt needs sqlglot[rs], which the pinned sqlglot cannot give), Debian's logrotate.
DAGSTER_VENV := .venv-dagster
AIRFLOW_STAMP := $(VENV)/.airflow-stamp
DAGSTER_STAMP := $(DAGSTER_VENV)/.installed-stamp

$(AIRFLOW_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev,airflow]'
	touch $(AIRFLOW_STAMP)

$(DAGSTER_STAMP): examples/dagster/requirements.txt
	test -x $(DAGSTER_VENV)/bin/python || $(PYTHON) -m venv $(DAGSTER_VENV)
	$(DAGSTER_VENV)/bin/python -m pip install --quiet -r examples/dagster/requirements.txt
	touch $(DAGSTER_STAMP)

logrotate:
	@command -v logrotate >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq logrotate >/dev/null; }

# The cron and Airflow tests in .venv, the Dagster tests in .venv-dagster; a missing tool fails, not skips.
test-orchestrators: $(AIRFLOW_STAMP) $(DAGSTER_STAMP) logrotate
	EVENT_ANALYTICS_ORCHESTRATOR_TESTS=required $(BIN)/python -m pytest tests/orchestrators/test_cron.py tests/orchestrators/test_airflow.py
	EVENT_ANALYTICS_ORCHESTRATOR_TESTS=required $(DAGSTER_VENV)/bin/python -m pytest tests/orchestrators/test_dagster.py

# Spark (issue 21; README, "Moving to a cluster"): the extra `spark` (dbt-spark in session mode, pyspark) in
# a venv of its own, .venv-spark, and a Java 17 runtime, Debian's when the machine has no `java`. Not in
# .venv: GX imports pyspark when it is installed, and pyspark's Spark Connect check exits a process whose
# __main__ has no file, as pytest-xdist's workers are (the default suite's runs stopped at GX, exit 0).
# make test-spark builds sample data with faults on DuckDB and on Spark and compares every relation row
# for row (parity.py); it is a CI step of its own, outside make test's budget, and make test-python
# leaves tests/python/spark out.
SPARK_VENV := .venv-spark
SPARK_STAMP := $(SPARK_VENV)/.installed-stamp

$(SPARK_STAMP): pyproject.toml requirements.lock
	test -x $(SPARK_VENV)/bin/python || $(PYTHON) -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/python -m pip install --quiet -c requirements.lock -e '.[dev,spark]'
	touch $(SPARK_STAMP)

java:
	@command -v java >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }

test-spark: $(SPARK_STAMP) java
	$(SPARK_VENV)/bin/python -m pytest tests/python/spark

# A Spark full build at the sizes of BENCH_ARGS, e.g. make bench-spark BENCH_ARGS="--events 1000000".
bench-spark: $(SPARK_STAMP) java
	$(SPARK_VENV)/bin/event-analytics bench --target spark $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	mkdir -p .test
	$(BIN)/sqlfluff lint models tests --processes 2 > .test/sqlfluff.log 2>&1; status=$$?; cat .test/sqlfluff.log; exit $$status
	# sqlfluff passes a model it could not compile, with a warning: that must fail the lint.
	! grep -n "Skipped file" .test/sqlfluff.log
	$(BIN)/event-analytics plan check
	$(BIN)/event-analytics suites generate --check
	$(BIN)/event-analytics vars docs --check

test: lint test-dbt test-python

clean:
	rm -rf .test target warehouse logs

bench: $(STAMP)
	$(BIN)/event-analytics bench $(BENCH_ARGS)
