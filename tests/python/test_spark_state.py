"""spark_state: a Spark folder's ledger of loaded landing files, read from the Parquet files of its
`meta.landing_files` table as Spark writes them (INT96 timestamps, _SUCCESS and .crc beside the
data), and the settings its rows follow. No Spark needed: the files are written here by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from event_analytics import spark_state
from event_analytics.ingest import plan_load
from event_analytics.project import ConfigError, project_vars

UTC = dt.UTC


def ledger_rows(folder: Path, name: str, rows: list[tuple[str, int, dt.datetime, str | None, dt.datetime]]) -> None:
    table = spark_state.ledger_table(folder)
    table.mkdir(parents=True, exist_ok=True)
    data = pa.table(
        {
            "path": [r[0] for r in rows],
            "size_bytes": pa.array([r[1] for r in rows], pa.int64()),
            "modified_at": pa.array([r[2] for r in rows], pa.timestamp("us", tz="UTC")),
            "etag": pa.array([r[3] for r in rows], pa.string()),
            "lines": pa.array([10] * len(rows), pa.int64()),
            "blank_lines": pa.array([0] * len(rows), pa.int64()),
            "loaded_at": pa.array([r[4] for r in rows], pa.timestamp("us", tz="UTC")),
        }
    )
    # Spark's default: timestamps as INT96 (nanoseconds)
    pq.write_table(data, table / f"part-{name}.snappy.parquet", use_deprecated_int96_timestamps=True)
    (table / "_SUCCESS").write_text("")
    (table / f".part-{name}.snappy.parquet.crc").write_bytes(b"\x00crc")


def test_a_folder_never_built_has_no_ledger(tmp_path: Path) -> None:
    assert spark_state.ledger(tmp_path / "spark") is None


def test_a_ledger_table_without_rows_is_empty(tmp_path: Path) -> None:
    spark_state.ledger_table(tmp_path).mkdir(parents=True)
    (spark_state.ledger_table(tmp_path) / "_SUCCESS").write_text("")
    assert spark_state.ledger(tmp_path) == {}


def test_the_latest_row_of_a_path_is_its_entry(tmp_path: Path) -> None:
    modified = dt.datetime(2026, 11, 2, 8, 0, 0, 123456, tzinfo=UTC)
    ledger_rows(
        tmp_path,
        "a",
        [
            ("2026-11-01.jsonl.gz", 100, modified, None, dt.datetime(2026, 11, 3, tzinfo=UTC)),
            ("odd name [1]'s.jsonl", 7, modified, '"etag-1"', dt.datetime(2026, 11, 3, tzinfo=UTC)),
        ],
    )
    # appended by a later run: the same path again (Spark's meta tables are append-only)
    ledger_rows(tmp_path, "b", [("2026-11-01.jsonl.gz", 120, modified, "e2", dt.datetime(2026, 11, 4, tzinfo=UTC))])
    modified_us = 1_793_606_400_123_456  # 2026-11-02T08:00:00.123456Z in microseconds since 1970
    assert spark_state.ledger(tmp_path) == {
        "2026-11-01.jsonl.gz": (120, modified_us, "e2"),
        "odd name [1]'s.jsonl": (7, modified_us, '"etag-1"'),
    }


def test_a_file_in_the_spark_ledger_is_not_loaded_again_and_a_changed_one_is_rejected(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "a.jsonl").write_text('{"type":"track"}\n')
    (landing / "b.jsonl").write_text('{"type":"page"}\n')
    (landing / "c.jsonl").write_text('{"type":"page"}\n')
    loaded_at = dt.datetime(2026, 11, 3, tzinfo=UTC)

    def stamp(path: Path) -> dt.datetime:
        return dt.datetime.fromtimestamp(path.stat().st_mtime_ns // 1000 / 1_000_000, UTC)

    folder = tmp_path / "spark"
    ledger_rows(
        folder,
        "a",
        [
            ("a.jsonl", (landing / "a.jsonl").stat().st_size, stamp(landing / "a.jsonl"), None, loaded_at),
            ("b.jsonl", 3, stamp(landing / "b.jsonl"), None, loaded_at),
        ],
    )
    settings = {**project_vars({}), "landing_settle_seconds": 0}
    plan = plan_load(landing, folder, settings, read_ledger=spark_state.ledger)
    assert [file.path for file in plan.files] == ["c.jsonl"]
    assert [(file.path, file.reason) for file in plan.rejected] == [("b.jsonl", "changed_after_load")]
    assert plan.already_loaded == 1
    assert plan.loaded_before == 2
    full = plan_load(landing, folder, settings, full_refresh=True, read_ledger=spark_state.ledger)
    assert sorted(file.path for file in full.files) == ["a.jsonl", "b.jsonl", "c.jsonl"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, []),
        ({"pii_key": "f2"}, ["the loaded rows follow the PII key: another version"]),
        ({"tracking_plan_mode": "warn"}, ["the loaded rows follow tracking_plan_mode: strict, not warn"]),
        # spark_job refuses this one even with --accept-partial-settings (it starts with FORMAT_DRIFT)
        ({"spark_file_format": "delta"}, ["the Spark folder's tables are parquet, not delta"]),
    ],
)
def test_settings_recorded_after_a_build_are_compared_with_the_next_runs(
    tmp_path: Path, change: dict[str, str], expected: list[str]
) -> None:
    recorded = {"tracking_plan_mode": "strict", "tracking_plan": "ab12", "pii_key": "f1"}
    recorded["spark_file_format"] = "parquet"
    assert spark_state.settings_drift(tmp_path, recorded) == []  # nothing loaded yet
    spark_state.record_settings(tmp_path, recorded)
    ledger_rows(tmp_path, "a", [("a.jsonl", 1, dt.datetime(2026, 1, 1, tzinfo=UTC), None, dt.datetime.now(UTC))])
    assert spark_state.settings_drift(tmp_path, {**recorded, **change}) == expected


def test_a_torn_ledger_or_settings_file_is_a_configuration_error(tmp_path: Path) -> None:
    table = spark_state.ledger_table(tmp_path)
    table.mkdir(parents=True)
    (table / "part-0.snappy.parquet").write_bytes(b"PAR1 not a parquet file")
    with pytest.raises(ConfigError, match="cannot be read"):
        spark_state.ledger(tmp_path)
    other = tmp_path / "other"
    ledger_rows(other, "a", [("a.jsonl", 1, dt.datetime(2026, 1, 1, tzinfo=UTC), None, dt.datetime.now(UTC))])
    (other / spark_state.SETTINGS_FILE).write_text('{"pii_key": "f1"')  # cut short while written
    with pytest.raises(ConfigError, match="--full-refresh"):
        spark_state.settings_drift(other, {"pii_key": "f1"})


def test_only_folders_of_tables_never_committed_are_removed(tmp_path: Path) -> None:
    tables = tmp_path / "tables"
    stopped = tables / "staging.db" / "stg_segment__events" / "_temporary" / "0"
    stopped.mkdir(parents=True)
    (stopped / "part-0.parquet").write_bytes(b"half")
    empty = tables / "quarantine.db" / "rejected_files"
    empty.mkdir(parents=True)
    (empty / "_SUCCESS").write_text("")
    writing = tables / "marts.db" / "dim_users"
    (writing / "_temporary").mkdir(parents=True)  # an insert into a committed table, stopped
    (writing / "part-0.parquet").write_bytes(b"rows")
    created = tables / "meta.db" / "moved_partitions"  # `create table`, nothing inserted yet
    created.mkdir(parents=True)
    assert spark_state.remove_uncommitted_tables(tmp_path) == ["staging.stg_segment__events"]
    assert not (tables / "staging.db" / "stg_segment__events").exists()
    assert empty.is_dir() and (writing / "part-0.parquet").is_file() and created.is_dir()
    assert spark_state.remove_uncommitted_tables(tmp_path / "never built") == []
