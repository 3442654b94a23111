"""Spark inside dbt's process (the `spark` target, dbt-spark's `session` method), started before dbt
connects, as warehouse_plugin prepares DuckDB's connections.

dbt-spark's session cursor takes `SparkSession.builder.getOrCreate()` for every statement, so the
session started here, with the profile's `server_side_parameters`, is the one dbt uses. It gets:

- the PII key's HMAC pads as session variables (`event_analytics_pii_inner`/`_outer`), read by the
  `pii_hmac` macro, so the key is never in compiled SQL, logs or run_results.json;
- the run's landing files as global temporary views, the same relations warehouse_plugin gives
  DuckDB: `landing_lines` and `landing_file_outcomes`, read once here (reader.py, one file per
  core) into Parquet under the Spark folder's `landing/`, and the `landing_reread` table function,
  which reads loaded files again for duplicate_events (macros/landing.sql).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from event_analytics.ingest import OUTCOMES_SCHEMA, PLAN_VARIABLE, STREAM_SCHEMA, FileOutcomes, LandingLines, LoadPlan
from event_analytics.json_patch import merge_patch_text
from event_analytics.secrets import PII_KEY_VARIABLE
from event_analytics.warehouse_plugin import hmac_pads

SPARK_DIR_VARIABLE = "EVENT_ANALYTICS_SPARK_DIR"
# Global temporary views live in this schema, which every session of the application sees.
VIEW_SCHEMA = "global_temp"


def start_for_dbt() -> None:
    """After dbt's parse: starts the session when the run's target is Spark in session mode (the
    profile's server_side_parameters, as dbt rendered them)."""
    from dbt.adapters.factory import FACTORY

    adapter = FACTORY.adapters.get("spark")
    if adapter is not None and adapter.config.credentials.method == "session":
        start(dict(adapter.config.credentials.server_side_parameters))


# The environment of the JVM that pyspark starts, unless set: Spark on the loopback address, and
# glibc's malloc arenas capped (by default up to eight per core, which Spark's threads fill).
JVM_ENVIRONMENT = {"SPARK_LOCAL_IP": "127.0.0.1", "MALLOC_ARENA_MAX": "2"}


def prepare_jvm_environment() -> None:
    """Before pyspark starts a JVM in this process."""
    for name, value in JVM_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def start(parameters: dict[str, str]) -> Any:
    """The session dbt will use, with the run's landing files and PII key registered."""
    from pyspark.sql import SparkSession

    prepare_jvm_environment()
    # Python workers (the landing_reread function) in this interpreter, which has the package.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.enableHiveSupport()
    for name, value in parameters.items():
        builder = builder.config(name, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    key = os.environ.get(PII_KEY_VARIABLE, "")
    if not key:
        raise RuntimeError(f"{PII_KEY_VARIABLE} is not set: personal data cannot be hashed without a secret key")
    inner, outer = hmac_pads(key.encode())
    spark.sql(f"declare or replace variable event_analytics_pii_inner binary default unhex('{inner.hex()}')")
    spark.sql(f"declare or replace variable event_analytics_pii_outer binary default unhex('{outer.hex()}')")
    plan_path = os.environ.get(PLAN_VARIABLE)
    plan = LoadPlan.read(plan_path) if plan_path else None
    register_landing(spark, plan, landing_folder(parameters))
    return spark


def landing_folder(parameters: dict[str, str]) -> Path:
    """Where this run's lines are staged: beside the Spark tables, one folder per run."""
    tables = Path(parameters.get("spark.sql.warehouse.dir", "spark-warehouse"))
    return tables.parent / "landing" / uuid.uuid4().hex


def register_landing(spark: Any, plan: LoadPlan | None, folder: Path) -> None:
    # Earlier runs' folders: a run's lines are only read during its own build.
    if folder.parent.is_dir():
        shutil.rmtree(folder.parent, ignore_errors=True)
    folder.mkdir(parents=True)
    lines = LandingLines(plan)
    write_parquet(folder / "lines.parquet", STREAM_SCHEMA, lines._batches())
    outcomes = pa.table(FileOutcomes(lines))
    write_parquet(folder / "outcomes.parquet", OUTCOMES_SCHEMA, iter(outcomes.to_batches()))
    read = spark.read.parquet(str(folder / "lines.parquet"))
    failed = spark.read.parquet(str(folder / "outcomes.parquet")).where("reason is not null")
    # A file whose reading failed part way loads whole on a later run: none of its lines now.
    read.join(failed, "source_file", "left_anti").createOrReplaceGlobalTempView("landing_lines")
    spark.read.parquet(str(folder / "outcomes.parquet")).createOrReplaceGlobalTempView("landing_file_outcomes")
    spark.udtf.register("landing_reread", reread_function(plan))
    spark.udf.register("event_analytics_json_merge_patch", merge_patch_text, "string")


def write_parquet(path: Path, schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> None:
    """Streams the batches to one file (an empty run still gets its columns)."""
    with pq.ParquetWriter(path, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)


def reread_function(plan: LoadPlan | None) -> Any:
    """`landing_reread(files)`: the lines of loaded files still as they were loaded, `files` a JSON
    list of {source_file, size_bytes, modified_us} (ingest.prepare_reread's argument). A PyArrow
    table function: it runs in Spark's Python workers, where the reader reads the files, and hands
    Spark the reader's Arrow batches as they come. (A row-wise table function keeps every row of a
    call in memory until it returns: 1.6 GB for the 30 files of the 1M-event benchmark.)"""
    from pyspark.sql.functions import arrow_udtf

    root = plan.root if plan else ""
    max_line_bytes = plan.max_line_bytes if plan else 0
    schema = ", ".join(f"{field.name}: {spark_type(field.type)}" for field in STREAM_SCHEMA)

    @arrow_udtf(returnType=schema)
    class LandingReread:
        def eval(self, files: pa.Array) -> Iterator[pa.RecordBatch]:
            from event_analytics.ingest import LandingLines, LoadPlan, prepare_reread

            for chosen in files.to_pylist():
                if not root or not chosen:
                    continue
                target = LandingLines(None)
                prepare_reread(LoadPlan(root=root, max_line_bytes=max_line_bytes), target, json.loads(chosen))
                yield from target._batches()

    return LandingReread


def spark_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return "binary"
    if pa.types.is_integer(arrow_type):
        return "bigint"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp_ntz"
    raise TypeError(f"no Spark type for {arrow_type}")
