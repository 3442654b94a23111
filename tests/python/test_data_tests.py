"""Data tests scoped to the rows written since their last pass (unique_combination_of_columns with
row_version), on a real warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb

from conftest import message, query, write_lines
from event_analytics.pipeline import RunResult, run_dbt

STAGING_UNIQUE = "unique_combination_of_columns_stg_segment__events"


def staging_uniqueness_test(landing: Path, warehouse: Path) -> RunResult:
    return run_dbt(
        "test",
        landing=landing,
        warehouse=warehouse,
        select="stg_segment__events,test_name:unique_combination_of_columns",
    )


def staging_unique_status(result: RunResult) -> str:
    (status,) = [node.status for node in result.nodes if STAGING_UNIQUE in node.unique_id]
    return status


def filtered_by_changed_keys(warehouse: Path) -> bool:
    """Whether the test's last compiled SQL checked the changed keys only (else every row)."""
    (compiled,) = (warehouse.parent / f".dbt-target-{warehouse.stem}" / "run").rglob("staging/_models.yml/*.sql")
    return " in (" in compiled.read_text()


def repeat_a_line(warehouse: Path, loaded_at: str) -> None:
    """What a faulty loader would do: store a line a second time, stamped `loaded_at`."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "insert into staging.stg_segment__events by name "
            f"select * replace (timestamp '{loaded_at}' as _loaded_at) from staging.stg_segment__events "
            "where line_number = 1"
        )


def test_scoped_uniqueness_checks_rows_written_since_its_last_pass(workdir: Path) -> None:
    landing, warehouse = workdir / "landing", workdir / "wh.duckdb"
    write_lines(
        landing / "2026-10-01.jsonl",
        [
            message("m1", "2026-10-01T10:00:00Z", anonymous_id="a1"),
            message("m2", "2026-10-01T10:01:00Z", anonymous_id="a1"),
        ],
    )
    assert run_dbt("run", landing=landing, warehouse=warehouse, select="stg_segment__events").ok
    first = staging_uniqueness_test(landing, warehouse)
    assert first.ok and staging_unique_status(first) == "pass"
    ((test_name, passed_at),) = query(warehouse, "select test_name, passed_at from meta.data_test_passes")
    ((loaded_at,),) = query(warehouse, "select max(_loaded_at) from staging.stg_segment__events")
    assert passed_at > loaded_at  # the start of the run it passed in
    assert not filtered_by_changed_keys(warehouse)  # no pass before: every row checked

    # A repeated line stamped after the pass is in scope: the test fails and keeps its old pass.
    repeat_a_line(warehouse, "2099-01-01 00:00:00")
    failed = staging_uniqueness_test(landing, warehouse)
    assert not failed.ok and staging_unique_status(failed) == "fail"
    assert filtered_by_changed_keys(warehouse)
    assert query(warehouse, "select passed_at from meta.data_test_passes") == [(passed_at,)]
    # ...and fails again on the next run, although that run writes nothing new.
    assert staging_unique_status(staging_uniqueness_test(landing, warehouse)) == "fail"

    # Rows stamped before the last pass are out of scope (they were checked then): the same repeat
    # stamped earlier passes, until the record of the pass is gone and every row is checked again.
    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from staging.stg_segment__events where _loaded_at = timestamp '2099-01-01'")
    repeat_a_line(warehouse, "2000-01-01 00:00:00")
    assert staging_unique_status(staging_uniqueness_test(landing, warehouse)) == "pass"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from meta.data_test_passes where test_name = ?", [test_name])
    assert staging_unique_status(staging_uniqueness_test(landing, warehouse)) == "fail"

    # A full refresh rewrites every row: all are newer than the pass, so the plain query runs.
    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from staging.stg_segment__events where _loaded_at = timestamp '2000-01-01'")
    assert staging_unique_status(staging_uniqueness_test(landing, warehouse)) == "pass"
    assert staging_unique_status(staging_uniqueness_test(landing, warehouse)) == "pass"
    assert filtered_by_changed_keys(warehouse)
    assert run_dbt("run", landing=landing, warehouse=warehouse, select="stg_segment__events", full_refresh=True).ok
    assert staging_unique_status(staging_uniqueness_test(landing, warehouse)) == "pass"
    assert not filtered_by_changed_keys(warehouse)
