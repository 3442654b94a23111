"""The serving copy of a Spark build, by the same publish step as DuckDB's (serving.publish).

A child process (Derby admits one JVM at a time, as for spark_validate) opens a session on the Spark
folder and writes, from Spark, each table and view of `marts` to Parquet, one file each (one
partition after a shuffle, so the work before it stays parallel), and the few columns of the
quarantine and meta tables that the manifest's `quality` and `landing` sections count: reasons,
ids and times, never a raw line. The parent then loads them into a DuckDB file shaped as a DuckDB
build's working warehouse, each mart's columns cast to its contract's types (as DuckDB's build
makes them: Spark names them otherwise) and commented with its descriptions from dbt's manifest
(Spark's metastore keeps no column comments, profiles.yml), and publishes that file. BI tools see
the same files, types and comments whichever engine built the marts.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from event_analytics.serving import SERVED_SCHEMA, Published, literal, publish, quoted

PUBLISH_TIMEOUT_SECONDS = 3600
WORK_PREFIX = "publish-"
FAILED_LOG = "publish-failed.log"
EXPORTED_ROWS = "exported_rows"
# What the manifest's quality and landing sections read (serving.quality_status, landing_coverage),
# as Spark SQL: the ledger and the watermarks are append-only on Spark, so a path's latest row is
# its entry and the latest watermark is the max.
COUNTED = {
    "quarantine.rejected_events": "select reason from quarantine.rejected_events",
    "quarantine.duplicate_events": "select event_id from quarantine.duplicate_events",
    "quarantine.rejected_files": "select reason, source_file, rejected_at from quarantine.rejected_files",
    "meta.incremental_watermarks": "select processed_through from meta.incremental_watermarks",
    "meta.landing_files": (
        "select path, lines from (select path, lines, row_number() over (partition by path order by loaded_at desc)"
        " as newest from meta.landing_files) where newest = 1"
    ),
}


class SparkPublishError(RuntimeError):
    """The child could not export the marts (Spark or its metastore failed)."""


def publish_spark(
    folder: Path, serving: Path, dbt_manifest: Path, suites: str, *, timeout: float = PUBLISH_TIMEOUT_SECONDS
) -> Published:
    """Publish the marts of the Spark folder `folder` to `serving`; `dbt_manifest` is the build's
    target/manifest.json (the marts' contracts and descriptions), `suites` as for serving.publish.
    The caller holds the Spark folder's lock."""
    models = mart_models(json.loads(dbt_manifest.read_text()))
    # Beside the tables (the marts may be large for /tmp); the caller holds the folder's lock, so a
    # folder left by a stopped publish is nobody's.
    for stale in folder.glob(f"{WORK_PREFIX}*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=WORK_PREFIX, dir=folder) as scratch:
        work = Path(scratch)
        export(folder, work, timeout)
        source = work / "working.duckdb"
        load_source(work, source, models)
        return publish(source, serving, suites, origin=str(folder))


def export(folder: Path, work: Path, timeout: float) -> None:
    from event_analytics.parity import run_spark_child

    arguments = [str(folder.resolve()), str(work)]
    try:
        code, tail = run_spark_child("event_analytics.spark_publish", arguments, work / "export.log", timeout)
    except subprocess.TimeoutExpired:
        raise SparkPublishError(f"exporting the marts of Spark folder {folder} took over {timeout:.0f} s") from None
    if code != 0 or not (work / "exported.json").is_file():
        # The run reports an error's first line: the reason goes there, the whole log beside the tables.
        kept = folder / FAILED_LOG
        shutil.copyfile(work / "export.log", kept)
        lines = [line.strip() for line in tail.splitlines() if line.strip()]
        reason = next((line for line in reversed(lines) if "Error" in line or "Exception" in line), None)
        raise SparkPublishError(
            f"exporting the marts of Spark folder {folder} failed (exit {code}): "
            f"{reason or (lines[-1] if lines else 'no output')} (log: {kept})"
        )


def mart_models(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The marts' nodes of dbt's manifest by name: description and columns (name -> description,
    data_type) in the contract's order."""
    models = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["config"].get("schema") == SERVED_SCHEMA:
            models[node["name"]] = {
                "description": node.get("description") or None,
                "columns": [
                    (name, column.get("description") or None, column.get("data_type"))
                    for name, column in node.get("columns", {}).items()
                ],
            }
    return models


def load_source(work: Path, source: Path, models: dict[str, dict[str, Any]]) -> None:
    """The exported files as a working warehouse for serving.publish."""
    exported = json.loads((work / "exported.json").read_text())
    with duckdb.connect(str(source)) as con:
        con.execute("set enable_progress_bar = false")
        # Spark's timestamps are UTC (the session's zone): instants are made naive in UTC below
        con.execute("set TimeZone = 'UTC'")
        for schema in {SERVED_SCHEMA, *(name.split(".", 1)[0] for name in COUNTED)}:
            con.execute(f"create schema if not exists {schema}")
        for name in exported["marts"]:
            target = f"{SERVED_SCHEMA}.{quoted(name)}"
            model = models.get(name)
            with exported_rows(con, work / "marts" / name) as sent:
                columns = list((model or {}).get("columns", []))
                if not columns or {column for column, _, _ in columns} != set(sent):
                    # A mart without a complete contract keeps Spark's columns and types
                    columns = [(column, None, None) for column in sent]
                select = ", ".join(
                    f"cast({quoted(column)} as {data_type}) as {quoted(column)}" if data_type else quoted(column)
                    for column, _, data_type in columns
                )
                con.execute(f"create table {target} as select {select} from {EXPORTED_ROWS}")
            naive_timestamps(con, SERVED_SCHEMA, name)
            if model and model["description"]:
                con.execute(f"comment on table {target} is {literal(model['description'])}")
            for column, comment, _ in columns:
                if comment:
                    con.execute(f"comment on column {target}.{quoted(column)} is {literal(comment)}")
        for name in exported["counted"]:
            with exported_rows(con, work / "counted" / name):
                con.execute(f"create table {name} as select * from {EXPORTED_ROWS}")
            naive_timestamps(con, *name.split("."))


@contextlib.contextmanager
def exported_rows(con: duckdb.DuckDBPyConnection, folder: Path) -> Iterator[list[str]]:
    """The rows of the one Parquet file Spark wrote in `folder`, streamed to `con` as EXPORTED_ROWS
    for the block, which gets their column names. Read by pyarrow, not by DuckDB's read_parquet,
    which takes a path as a glob pattern: a Spark folder named with `[` would match nothing.
    Spark's default INT96 timestamps come as microseconds."""
    (path,) = sorted(folder.glob("*.parquet"))
    with pq.ParquetFile(path, coerce_int96_timestamp_unit="us") as parquet:
        con.register(EXPORTED_ROWS, pa.RecordBatchReader.from_batches(parquet.schema_arrow, parquet.iter_batches()))
        try:
            yield parquet.schema_arrow.names
        finally:
            con.unregister(EXPORTED_ROWS)


def naive_timestamps(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> None:
    """Timestamps written as instants (TIMESTAMP_MICROS, as a cluster may write them) as UTC
    wall-clock times, the type DuckDB's build gives them: read in another zone, they would carry
    its offset into the manifest."""
    instants = con.execute(
        "select column_name from duckdb_columns() where schema_name = ? and table_name = ?"
        " and data_type in ('TIMESTAMP WITH TIME ZONE', 'TIMESTAMP_NS')",
        [schema, table],
    ).fetchall()
    for (column,) in instants:
        con.execute(f"alter table {schema}.{quoted(table)} alter {quoted(column)} type timestamp")


def export_in_child(folder: Path, work: Path) -> None:
    """The child's work: the marts and the counted columns to Parquet under `work`."""
    from pyspark.sql import functions as F  # noqa: N812
    from pyspark.sql.types import VariantType

    from event_analytics.parity import open_spark_session, spark_tables

    spark = open_spark_session(folder, "event-analytics publish")
    exported: dict[str, list[str]] = {"marts": [], "counted": []}
    try:
        for _, name in spark_tables(spark, {SERVED_SCHEMA}):
            frame = spark.table(f"`{SERVED_SCHEMA}`.`{name}`")
            # VARIANT (parsed JSON) travels as its JSON text, which the contract's json type parses
            frame = frame.select(
                *(
                    F.to_json(F.col(f.name)).alias(f.name) if isinstance(f.dataType, VariantType) else F.col(f.name)
                    for f in frame.schema.fields
                )
            )
            write_one_file(frame, work / "marts" / name)
            exported["marts"].append(name)
        for name, sql in COUNTED.items():
            schema, table = name.split(".")
            if spark.catalog.tableExists(table, schema):
                write_one_file(spark.sql(sql), work / "counted" / name)
                exported["counted"].append(name)
    finally:
        spark.stop()
    (work / "exported.json").write_text(json.dumps(exported))


def write_one_file(frame: Any, folder: Path) -> None:
    """One Parquet file in `folder` (Spark writes an empty frame's schema too)."""
    frame.repartition(1).write.mode("overwrite").parquet(str(folder))
    for extra in folder.iterdir():
        if not extra.name.endswith(".parquet"):
            extra.unlink() if extra.is_file() else shutil.rmtree(extra)


def _main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m event_analytics.spark_publish SPARK_DIR WORK_DIR", file=sys.stderr)
        return 2
    export_in_child(Path(argv[0]), Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
