"""spark_publish's DuckDB side, without Spark: files shaped as its child writes them (one Parquet
file per mart, timestamps as instants, JSON as text) become a working warehouse with the marts'
contract types and descriptions, which serving.publish publishes. make test-spark publishes a real
Spark build and compares the copy with DuckDB's (tests/python/spark/test_spark_validation.py)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from event_analytics.serving import SUITES_PASSED, publish
from event_analytics.spark_publish import FAILED_LOG, SparkPublishError, export, load_source, mart_models

MANIFEST = {
    "nodes": {
        "model.event_analytics.orders": {
            "resource_type": "model",
            "name": "orders",
            "config": {"schema": "marts"},
            "description": "One row per order.",
            "columns": {
                "order_id": {"description": "The order's id.", "data_type": "varchar"},
                "ordered_at": {"description": "When, UTC.", "data_type": "timestamp"},
                "items": {"description": "", "data_type": "json"},
                "revenue": {"description": "Its value.", "data_type": "double"},
            },
        },
        "model.event_analytics.stg_segment__events": {
            "resource_type": "model",
            "name": "stg_segment__events",
            "config": {"schema": "staging"},
            "columns": {},
        },
    }
}


def write(folder: Path, table: pa.Table, int96: bool = False) -> None:
    """As Spark writes a frame of one partition; `int96`: its default timestamp encoding."""
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "part-00000-c000.snappy.parquet", use_deprecated_int96_timestamps=int96)


def exported(work: Path) -> None:
    """What the child leaves for the marts `orders` (contracted; columns in another order than the
    contract's, as Spark's select may give them) and `notes` (no contract), and two counted tables."""
    utc = dt.UTC
    write(
        work / "marts" / "orders",
        pa.table(
            {
                "revenue": pa.array([12.5, None], pa.float64()),
                "items": pa.array(['{"sku": "a", "qty": 2}', None]),
                "ordered_at": pa.array(
                    [dt.datetime(2026, 3, 29, 1, 30, tzinfo=utc), dt.datetime(2026, 10, 25, 23, 59, 59, tzinfo=utc)],
                    pa.timestamp("us", tz="UTC"),
                ),
                "order_id": pa.array(["o-1", "o-2"]),
            }
        ),
    )
    write(
        work / "marts" / "notes",
        pa.table(
            {
                "note": pa.array(["x"]),
                "n": pa.array([7], pa.int64()),
                "noted_at": pa.array([dt.datetime(2026, 3, 29, 2, 30, 0, 123456)], pa.timestamp("us")),
            }
        ),
        int96=True,
    )
    write(work / "counted" / "quarantine.rejected_events", pa.table({"reason": ["invalid_json", "invalid_json", "x"]}))
    write(work / "counted" / "quarantine.duplicate_events", pa.table({"event_id": ["e1"]}))
    write(
        work / "counted" / "meta.incremental_watermarks",
        pa.table(
            {
                "processed_through": pa.array(
                    [dt.datetime(2026, 3, 29, 0, 59, 59, tzinfo=utc), dt.datetime(2026, 3, 29, 1, 0, 1, tzinfo=utc)],
                    pa.timestamp("us", tz="UTC"),
                )
            }
        ),
    )
    write(
        work / "counted" / "quarantine.rejected_files",
        pa.table(
            {
                "reason": ["unreadable", "changed_after_load"],
                "source_file": ["b.jsonl.gz", "a.jsonl"],
                # one rejected by the latest build (its watermark's time), one by an earlier build
                "rejected_at": pa.array(
                    [dt.datetime(2026, 3, 29, 1, 0, 1), dt.datetime(2026, 3, 29, 0, 59, 59)], pa.timestamp("us")
                ),
            }
        ),
        int96=True,
    )
    (work / "exported.json").write_text(
        json.dumps(
            {
                "marts": ["orders", "notes"],
                "counted": [
                    "quarantine.rejected_events",
                    "quarantine.duplicate_events",
                    "quarantine.rejected_files",
                    "meta.incremental_watermarks",
                ],
            }
        )
    )


def test_marts_take_their_contract_types_and_descriptions(tmp_path: Path, monkeypatch) -> None:
    # The instants are read back in UTC whatever the machine's zone (one with summer time here).
    monkeypatch.setenv("TZ", "Europe/Berlin")
    work = tmp_path / "spark [1] *"  # glob characters in the Spark folder's name
    exported(work)
    source = tmp_path / "working.duckdb"
    load_source(work, source, mart_models(MANIFEST))
    with duckdb.connect(str(source), read_only=True) as con:
        columns = con.execute(
            "select column_name, data_type, comment from duckdb_columns()"
            " where schema_name = 'marts' and table_name = 'orders' order by column_index"
        ).fetchall()
        assert columns == [
            ("order_id", "VARCHAR", "The order's id."),
            ("ordered_at", "TIMESTAMP", "When, UTC."),
            ("items", "JSON", None),
            ("revenue", "DOUBLE", "Its value."),
        ]
        assert con.execute("select comment from duckdb_tables() where table_name = 'orders'").fetchone() == (
            "One row per order.",
        )
        assert con.execute("select * from marts.orders order by order_id").fetchall() == [
            ("o-1", dt.datetime(2026, 3, 29, 1, 30), '{"sku": "a", "qty": 2}', 12.5),
            ("o-2", dt.datetime(2026, 10, 25, 23, 59, 59), None, None),
        ]
        assert con.execute(
            "select json_extract(items, '$.qty') from marts.orders where order_id = 'o-1'"
        ).fetchone() == ("2",)
        # Without a contract: Spark's columns and types as written, its INT96 times as TIMESTAMP.
        assert [row[:2] for row in con.execute("describe marts.notes").fetchall()] == [
            ("note", "VARCHAR"),
            ("n", "BIGINT"),
            ("noted_at", "TIMESTAMP"),
        ]
        assert con.execute("select * from marts.notes").fetchall() == [
            ("x", 7, dt.datetime(2026, 3, 29, 2, 30, 0, 123456))
        ]
        assert con.execute("select count(*) from quarantine.rejected_events").fetchone() == (3,)
    published = publish(source, tmp_path / "serving", SUITES_PASSED, origin="/data/spark")
    assert published.marts == {"notes": 1, "orders": 2}
    manifest = json.loads((tmp_path / "serving" / "manifest.json").read_text())
    assert manifest["warehouse"] == "/data/spark"
    assert manifest["quality"]["quarantined"] == {"total": 3, "by_reason": {"invalid_json": 2, "x": 1}}
    assert manifest["quality"]["duplicates"] == 1
    # The latest watermark, an instant, as UTC wall-clock time (no offset of the machine's zone).
    assert manifest["quality"]["rejected_files"] == {
        "files": 1,
        "by_reason": {"unreadable": 1},
        "latest_build": "2026-03-29 01:00:01",
    }
    orders = pq.read_table(tmp_path / "serving" / "parquet" / "orders.parquet")
    assert orders.schema.field("ordered_at").type == pa.timestamp("us")
    assert orders.column("ordered_at").to_pylist()[0] == dt.datetime(2026, 3, 29, 1, 30)


def test_a_mart_whose_columns_differ_from_its_contract_keeps_what_spark_wrote(tmp_path: Path) -> None:
    """A contract that lists other columns (a mart changed since the manifest) is not forced on it:
    its types are Spark's, and the GX schema suites, which ran before, judge its columns."""
    exported(tmp_path)
    models = mart_models(MANIFEST)
    models["orders"]["columns"] = models["orders"]["columns"][:2]
    source = tmp_path / "working.duckdb"
    load_source(tmp_path, source, models)
    with duckdb.connect(str(source), read_only=True) as con:
        assert [row[0] for row in con.execute("describe marts.orders").fetchall()] == [
            "revenue",
            "items",
            "ordered_at",
            "order_id",
        ]


@pytest.mark.skipif(importlib.util.find_spec("pyspark") is not None, reason="the child needs no pyspark to fail")
def test_a_failed_export_says_why_on_one_line_and_keeps_its_log(tmp_path: Path) -> None:
    """The run reports an error's first line (job.stop_for): the child's reason must be on it. Here
    the child fails at once, without pyspark (the default environment has none)."""
    folder, work = tmp_path / "spark", tmp_path / "spark" / "publish-x"
    work.mkdir(parents=True)
    with pytest.raises(SparkPublishError) as failed:
        export(folder, work, timeout=120)
    message = str(failed.value)
    assert "\n" not in message
    assert "failed (exit 1): ModuleNotFoundError: No module named 'pyspark'" in message
    assert message.endswith(f"(log: {folder / FAILED_LOG})")
    assert "Traceback" in (folder / FAILED_LOG).read_text()
