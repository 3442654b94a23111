"""make test-spark (issue 21): `event-analytics run --target spark` validates the Spark tables with
the GX suites that validate DuckDB's, through GX's Spark datasource (spark_validate.py), with the
same problems, alerts and exit codes, and a run that passes publishes the same serving copy as
DuckDB's run (spark_publish.py); one that fails publishes nothing.

The Spark build is conftest.py's (the sample with faults, built on both engines for the parity
tests). A run here is job.run_job on that build's warehouse with dbt's build replaced by a
successful no-op (the tables are built already; a Spark build takes minutes), so what runs is
spark_job.run around it: planning, the GX step, problems, alerts and the exit code. A broken
relation is a view put in a mart's place in the Spark folder (its table renamed aside), undone
after the test, so the build stays as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from event_analytics import alerts, job, parity
from event_analytics.pipeline import RunResult
from event_analytics.project import EXIT_VALIDATION_FAILED, project_dir
from event_analytics.quality.checks import problems_of, validate_warehouse
from event_analytics.quality.suites import load_schema_suites
from event_analytics.runlog import runs_path
from event_analytics.serving import SUITES_PASSED, publish
from event_analytics.spark_validate import SPARK_TYPES, for_spark
from slack_server import slack_webhook

PLANTED_EMAIL = "jane.doe@example.org"
# An order whose coupon holds an email, beside the real ones; user_paths without pair_rank and with
# sessions as BIGINT (INTEGER in its contract).
ORDERS_PLANTED = {"order_id": "concat(order_id, '-planted')", "coupon": f"'code {PLANTED_EMAIL}'"}
USER_PATHS_CHANGED = {"pair_rank": None, "sessions": "cast(sessions as bigint)"}
# The problems those make (alerts.Problem.key: source|relation|column|check), on either engine.
EXPECTED_PROBLEMS = {
    "gx:pii.marts.orders|marts.orders|coupon|expect_column_values_to_not_match_regex",
    "gx:schema.marts.user_paths|marts.user_paths||expect_table_columns_to_match_set",
    "gx:schema.marts.user_paths|marts.user_paths|sessions|expect_column_values_to_be_of_type",
    "gx:schema.marts.user_paths|marts.user_paths|pair_rank|expect_column_values_to_be_of_type",
}


def test_every_type_of_the_suites_has_its_spark_type() -> None:
    types = {
        str(e["kwargs"]["type_"]).upper()
        for suite in load_schema_suites()
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_of_type"
    }
    assert types <= set(SPARK_TYPES)
    translated = [for_spark(suite) for suite in load_schema_suites()]
    assert {
        e["kwargs"]["type_"]
        for suite in translated
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_of_type"
    } <= set(SPARK_TYPES.values())


def test_the_sample_passes_the_suites_on_spark(
    full_build: parity.ParityResult,
    workdir: parity.Workdir,
    landing: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    require_spark_build(workdir)
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    code = run_on_spark(workdir, landing, monkeypatch)
    err = capsys.readouterr().err
    assert code == 0, err[-3000:]
    last = last_run(workdir)
    assert (last["exit_code"], last["gx"]) == (0, "passed")
    assert not gx_problems(workdir)
    # The suites and expectations DuckDB's run checks on its twin of the same data.
    duckdb_report = validate_warehouse(
        workdir.duckdb_warehouse, dbt_tested=True, rejected_files_since=started.isoformat(sep=" ")
    )
    assert duckdb_report.success, [str(f) for f in duckdb_report.failures]
    assert (
        f"validation passed: {duckdb_report.suites} suites, {duckdb_report.expectations} expectations, 0 failed" in err
    )
    assert (workdir.spark_warehouse.parent / "data_docs" / "index.html").is_file()
    # Published: the same marts, rows, types and comments as DuckDB's publish of its twin.
    assert last["published"] is True
    duckdb_serving = tmp_path / "duckdb-serving"
    publish(workdir.duckdb_warehouse, duckdb_serving, SUITES_PASSED)
    spark_copy, duckdb_copy = serving(workdir) / "analytics.duckdb", duckdb_serving / "analytics.duckdb"
    published = parity.compare(parity.read_duckdb(duckdb_copy), parity.read_duckdb(spark_copy))
    assert published.ok, published.describe()
    assert len(published.relations) == len(list((duckdb_serving / "parquet").glob("*.parquet"))) > 10
    assert shape(spark_copy) == shape(duckdb_copy)
    for mart in (serving(workdir) / "parquet").glob("*.parquet"):
        assert pq.read_schema(mart).equals(pq.read_schema(duckdb_serving / "parquet" / mart.name))
    spark_manifest = json.loads((serving(workdir) / "manifest.json").read_text())
    duckdb_manifest = json.loads((duckdb_serving / "manifest.json").read_text())
    assert spark_manifest["warehouse"] == str(workdir.spark_dir.resolve())
    for section in ("marts", "landing"):
        assert spark_manifest[section] == duckdb_manifest[section]
    assert spark_manifest["quality"]["quarantined"] == duckdb_manifest["quality"]["quarantined"]
    assert spark_manifest["quality"]["duplicates"] == duckdb_manifest["quality"]["duplicates"]
    assert "<html" in (serving(workdir) / "report.html").read_text()


def test_an_email_in_a_mart_and_a_dropped_column_fail_the_run_and_alert(
    full_build: parity.ParityResult,
    workdir: parity.Workdir,
    landing: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    require_spark_build(workdir)
    manifest = serving(workdir) / "manifest.json"
    before = manifest.read_text() if manifest.exists() else None
    with broken_marts_on_spark(workdir.spark_dir), slack_webhook() as (url, slack):
        monkeypatch.setenv(alerts.WEBHOOK_VARIABLE, url)
        code = run_on_spark(workdir, landing, monkeypatch)
    assert code == EXIT_VALIDATION_FAILED
    last = last_run(workdir)
    assert (last["exit_code"], last["gx"], last["problems"]["error"]) == (1, "failed", 4)
    assert last["published"] is False
    assert (manifest.read_text() if manifest.exists() else None) == before
    assert gx_problems(workdir) == EXPECTED_PROBLEMS
    # One alert with the four, the email masked there and in Data Docs.
    posted = json.dumps(slack.posts)
    assert len(slack.posts) == 1
    assert "code j***(email)" in posted and PLANTED_EMAIL not in posted
    assert "expect_table_columns_to_match_set failed on marts.user_paths" in posted
    docs = workdir.spark_warehouse.parent / "data_docs"
    pages = [page.read_text(errors="replace") for page in docs.rglob("*.html")]
    assert any("j***(email)" in page for page in pages)
    assert not any(PLANTED_EMAIL in page for page in pages)
    # DuckDB's validation of the same break on its twin finds the same problems.
    copy = tmp_path / "events.duckdb"
    shutil.copy(workdir.duckdb_warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        for statement in break_statements():
            con.execute(statement)
    report = validate_warehouse(copy, dbt_tested=True)
    assert {problem.key for problem in problems_of(report.failures, "enforce")} == EXPECTED_PROBLEMS


def run_on_spark(workdir: parity.Workdir, landing: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """`event-analytics run --target spark` on the built Spark folder, dbt's build a no-op; its
    exit code."""
    # The build's dbt target folder (pipeline.run_dbt's, beside the warehouse): its manifest.json
    # gives the publish the marts' contracts.
    built = RunResult(returncode=0, wall_seconds=0.0, target_path=workdir.spark_warehouse.parent / ".dbt-target-events")
    monkeypatch.setattr(job, "dbt_build", lambda *args, **kwargs: built)
    options = job.RunOptions(
        warehouse=workdir.spark_warehouse, serving=serving(workdir), landing=str(landing), target="spark"
    )
    try:
        job.run_job(options)
    except job.Stop as stop:
        return stop.code
    return 0


def serving(workdir: parity.Workdir) -> Path:
    return workdir.spark_warehouse.parent / "serving"


def shape(copy: Path) -> list[tuple[str, str, str, str | None]]:
    """The marts' columns of a serving copy: (table, column, type, comment), and the tables' comments."""
    with duckdb.connect(str(copy), read_only=True) as con:
        return con.execute(
            "select table_name, column_name, data_type, comment from duckdb_columns() where schema_name = 'marts'"
            " union all select table_name, '', '', comment from duckdb_tables() where schema_name = 'marts'"
            " order by all"
        ).fetchall()


def require_spark_build(workdir: parity.Workdir) -> None:
    """The tests need the tables: stop at a failed build (its reason), not at what it left out."""
    last = last_run(workdir)
    if last["dbt"] not in ("success", "tests_failed"):
        pytest.fail(f"the Spark build failed (exit {last['exit_code']}): {last['reason'][:500]}", pytrace=False)


def last_run(workdir: parity.Workdir) -> dict:
    return json.loads(runs_path(workdir.spark_warehouse).read_text().splitlines()[-1])


def gx_problems(workdir: parity.Workdir) -> set[str]:
    """The open GX problems kept for the alerts (parity's builds may leave others: freshness)."""
    return {key for key in alerts.load_state(workdir.spark_warehouse) if key.startswith("gx:")}


def columns(relation: str) -> list[str]:
    """The relation's columns, as its schema suite lists them."""
    suite = json.loads((project_dir() / "expectations" / f"schema.{relation}.json").read_text())
    return next(
        e["kwargs"]["column_set"] for e in suite["expectations"] if e["type"] == "expect_table_columns_to_match_set"
    )


def select_list(relation: str, changed: dict[str, str | None]) -> str:
    """The relation's columns, each as `changed` says: an expression, or left out for None."""
    return ", ".join(
        f"{changed[column]} as {column}" if changed.get(column) else column
        for column in columns(relation)
        if column not in changed or changed[column] is not None
    )


def break_statements() -> list[str]:
    """SQL (Spark's and DuckDB's alike) putting the broken views in the marts' place."""
    return [
        "alter table marts.orders rename to orders__kept",
        f"create view marts.orders as select {select_list('marts.orders', {})} from marts.orders__kept"
        f" union all (select {select_list('marts.orders', ORDERS_PLANTED)} from marts.orders__kept limit 1)",
        "alter table marts.user_paths rename to user_paths__kept",
        f"create view marts.user_paths as select {select_list('marts.user_paths', USER_PATHS_CHANGED)}"
        " from marts.user_paths__kept",
    ]


RESTORE_STATEMENTS = [
    "drop view if exists marts.orders",
    "alter table marts.orders__kept rename to orders",
    "drop view if exists marts.user_paths",
    "alter table marts.user_paths__kept rename to user_paths",
]


@contextlib.contextmanager
def broken_marts_on_spark(folder: Path) -> Iterator[None]:
    spark_sql(folder, break_statements())
    try:
        yield
    finally:
        spark_sql(folder, RESTORE_STATEMENTS)


SPARK_SQL = """
import json, sys
from pathlib import Path
from event_analytics.parity import open_spark_session
spark = open_spark_session(Path(sys.argv[1]), "test_spark_validation")
try:
    for statement in json.loads(sys.argv[2]):
        spark.sql(statement)
finally:
    spark.stop()
"""


def spark_sql(folder: Path, statements: list[str]) -> None:
    """The statements in a session on the Spark folder, in a child process: Derby admits one JVM at
    a time, and this one must have ended before a run opens the folder."""
    done = subprocess.run(
        [sys.executable, "-c", SPARK_SQL, str(folder), json.dumps(statements)],
        capture_output=True,
        text=True,
        cwd=str(project_dir()),
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
