"""The GX suites on a Spark build (issue 21): the same suites as on DuckDB (quality/checks.py),
through GX 1.x's Spark datasource, with the same failures, problems, alerts and exit codes.

What is Spark's own here, and only that (the rest is checks.validate_relations and its helpers):

- the catalogue the PII suites are built from: the tables and views of the suites' schemas in
  Spark's catalog, each column's type named as DuckDB's (`string` is VARCHAR, a `variant` JSON),
  so checks.pii_suite picks the same text columns;
- each suite's batch: a dataframe asset whose batch is `spark.table(relation)` (with the suite's
  row filter, if any, as `.where`), handed to GX at run time (`{"dataframe": df}`). A Checkpoint
  gives every validation definition the same batch parameters, so the suites of one batch (a
  relation's schema and PII suites) run in a Checkpoint of their own, all under one run id; Data
  Docs are built once over all results (actions.UpdateDataDocsOnce, masked, as on DuckDB). A suite
  whose relation is missing (only landing.rejected_files can be: suites_for checks the others) is
  a `relation_exists` failure, as a missing schema suite's relation is;
- the type expectations: the suite files name DuckDB's types, GX's Spark engine checks a pyspark
  type class; SPARK_TYPES says which class each DuckDB type is built as on Spark (JSON is text:
  Spark stores the models' JSON as STRING, so a JSON column and a text column are one type there);
- a VARIANT column (none of the suites' relations has one) is read as its JSON text, as DuckDB
  returns JSON, so offending values are text that masking and Data Docs handle.

Spark runs in a child process (`python -m event_analytics.spark_validate`), opened on the Spark
folder's tables and Derby metastore with the spark target's own settings (parity.spark_settings),
after dbt's process has exited: Derby admits one JVM at a time, and the session's memory and the
metastore's lock end with the child. The child writes its ValidationReport as JSON (offending
values already masked); the caller turns failures into problems exactly as on DuckDB
(checks.problems_of, severity_of).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from event_analytics.project import ConfigError
from event_analytics.quality.checks import CHECKPOINT_NAME, Failure, ValidationReport
from event_analytics.quality.suites import CATEGORY_META, NOW_PARAMETER, PII_SCHEMA, SCHEMA_SUITE_FOLDERS, Relation

# The pyspark type class each DuckDB type of the suite files is built as on Spark (the models cast
# to these; checked against a Spark build of the sample data, where every column has its type).
SPARK_TYPES = {
    "VARCHAR": "StringType",
    "JSON": "StringType",
    "BOOLEAN": "BooleanType",
    "SMALLINT": "ShortType",
    "INTEGER": "IntegerType",
    "BIGINT": "LongType",
    "BLOB": "BinaryType",
    "DOUBLE": "DoubleType",
    "FLOAT": "FloatType",
    "DATE": "DateType",
    "TIMESTAMP": "TimestampType",
    "TIMESTAMP WITH TIME ZONE": "TimestampType",
}
# Spark's type names (DataType.typeName()) as the catalogue gives them to the PII suites.
DUCKDB_NAMES = {"string": "VARCHAR", "variant": "JSON"}
VALIDATE_TIMEOUT_SECONDS = 3600


class SparkValidationError(Exception):
    """The child could not validate (Spark, its metastore or GX failed): the pipeline's failure."""


def validate_spark(
    folder: Path,
    *,
    data_docs: Path | None = None,
    pii_schema: str = PII_SCHEMA,
    changed_since: str | None = None,
    dbt_tested: bool = False,
    rejected_files_since: str | None = None,
    future_tolerance_minutes: float = 0.0,
    timeout: float = VALIDATE_TIMEOUT_SECONDS,
) -> ValidationReport:
    """checks.validate_warehouse for a Spark folder (its tables/ and metastore_db/), in a child
    process; ConfigError when the folder holds no build, SparkValidationError when the child fails."""
    from event_analytics.parity import run_spark_child

    if not (folder / "metastore_db").is_dir():
        raise ConfigError(f"Spark folder {folder} has no metastore_db: run the pipeline on Spark first")
    request = {
        "data_docs": str(data_docs.resolve()) if data_docs is not None else None,
        "pii_schema": pii_schema,
        "changed_since": changed_since,
        "dbt_tested": dbt_tested,
        "rejected_files_since": rejected_files_since,
        "future_tolerance_minutes": future_tolerance_minutes,
    }
    with tempfile.TemporaryDirectory(prefix="spark-validate-") as scratch:
        work = Path(scratch)
        (work / "request.json").write_text(json.dumps(request))
        arguments = [str(folder.resolve()), str(work)]
        try:
            code, tail = run_spark_child("event_analytics.spark_validate", arguments, work / "validate.log", timeout)
        except subprocess.TimeoutExpired:
            raise SparkValidationError(f"validating Spark folder {folder} took over {timeout:.0f} s") from None
        report_path = work / "report.json"
        if code != 0 or not report_path.is_file():
            raise SparkValidationError(
                f"validating Spark folder {folder} failed (exit {code}; its Derby metastore admits one JVM at a"
                f" time: is a dbt run on Spark still going?):\n{tail}"
            )
        data = json.loads(report_path.read_text())
    if data.get("config_error"):
        raise ConfigError(data["config_error"])
    return ValidationReport(
        suites=data["suites"],
        expectations=data["expectations"],
        failures=[Failure(**failure) for failure in data["failures"]],
        seconds=data["seconds"],
        data_docs=Path(data["data_docs"]) if data["data_docs"] else None,
    )


def gx_audit(
    folder: Path,
    audit: Any,
    settings: dict[str, Any],
    *,
    data_docs: Path,
    dbt_tested: bool = False,
    rejected_files_since: str | None = None,
) -> ValidationReport:
    """job.gx_audit for a Spark folder: the suites' failures join the audit's problems with their
    severity; a configuration error stops the run with exit 2, a failure to validate with 3."""
    from event_analytics import project
    from event_analytics.job import Stop, console, prune_data_docs
    from event_analytics.quality.checks import problems_of

    try:
        report = validate_spark(
            folder,
            data_docs=data_docs,
            dbt_tested=dbt_tested,
            rejected_files_since=rejected_files_since,
            # receivedAt may itself lie max_future_minutes after its file's time (staging's rule)
            future_tolerance_minutes=2 * float(settings["max_future_minutes"]),
        )
    except ConfigError as exc:
        raise Stop(project.EXIT_CONFIG_ERROR, str(exc)) from exc
    except SparkValidationError as exc:
        raise Stop(project.EXIT_PIPELINE_ERROR, f"validation could not run: {exc}") from exc
    prune_data_docs(data_docs)
    audit.checked.add("gx")
    audit.problems.extend(problems_of(report.failures, str(settings["tracking_plan_mode"])))
    summary = (
        f"{report.suites} suites, {report.expectations} expectations, {len(report.failures)} failed "
        f"in {report.seconds:.1f} s on Spark; Data Docs: {report.data_docs}"
    )
    if dbt_tested:
        summary += "; dbt's tests not repeated"
    console.print(f"validation {'passed' if report.success else 'found problems'}: {summary}", markup=False)
    return report


def validate_run(options: Any, record: Any, progress: Any, audit: Any, settings: dict[str, Any]) -> None:
    """The GX step of `run --target spark` (job.validate's): every suite on every row of the Spark
    folder beside options.warehouse, dbt's tests not repeated when its build passed them, the
    landing files rejected since the run started among the failures (warnings); Data Docs in
    data_docs/ beside the warehouse, as on DuckDB. The caller holds the Spark folder's lock."""
    from event_analytics.pipeline import spark_dir

    folder = spark_dir(options.warehouse).resolve()
    started = dt.datetime.fromisoformat(record.started_at).astimezone(dt.UTC).replace(tzinfo=None)
    progress.stage_start("gx", "all rows, on Spark")
    report = gx_audit(
        folder,
        audit,
        settings,
        data_docs=options.warehouse.parent / "data_docs",
        dbt_tested=record.dbt == "success",
        rejected_files_since=started.isoformat(sep=" "),
    )
    record.seconds["gx"] = round(progress.stage_end("gx", "passed" if report.success else "found problems"), 3)
    record.gx = "passed" if report.success else "failed"


# ---------------------------------------------------------------------------------------------
# In the child process


def catalogue(spark: Any, schemas: set[str]) -> dict[Relation, list[tuple[str, str]]]:
    """checks.catalogue of a Spark warehouse: the relations of `schemas` (those the suites look
    at) with their columns in order, types named as DuckDB's where the PII suites read them."""
    from event_analytics.parity import spark_tables

    relations: dict[Relation, list[tuple[str, str]]] = {}
    for schema, table in spark_tables(spark, schemas):
        fields = spark.table(f"`{schema}`.`{table}`").schema.fields
        relations[Relation(schema, table.lower())] = [
            (field.name, DUCKDB_NAMES.get(field.dataType.typeName(), field.dataType.simpleString().upper()))
            for field in fields
        ]
    return relations


def for_spark(suite: dict[str, Any]) -> dict[str, Any]:
    """The suite with each type expectation naming the pyspark type its DuckDB type is built as."""
    expectations = []
    for expectation in suite["expectations"]:
        kwargs = expectation["kwargs"]
        if expectation["type"] == "expect_column_values_to_be_of_type":
            duckdb_type = str(kwargs["type_"]).upper()
            spark_type = "DecimalType" if duckdb_type.startswith("DECIMAL") else SPARK_TYPES.get(duckdb_type)
            if spark_type is None:
                raise ConfigError(f"{suite['name']}: no Spark type for {kwargs['type_']} (spark_validate.SPARK_TYPES)")
            expectation = {**expectation, "kwargs": {**kwargs, "type_": spark_type}}
        expectations.append(expectation)
    return {**suite, "expectations": expectations}


def frame(spark: Any, relation: str, row_filter: str | None) -> Any:
    """A suite's batch: the relation's rows (those of its row filter), VARIANT columns as JSON text."""
    from pyspark.sql import functions as F  # noqa: N812

    schema, name = relation.split(".", 1)
    df = spark.table(f"`{schema}`.`{name}`")
    if row_filter:
        df = df.where(row_filter)
    variants = [field.name for field in df.schema.fields if field.dataType.typeName() == "variant"]
    if variants:
        df = df.select(*(F.to_json(F.col(c)).alias(c) if c in variants else F.col(c) for c in df.columns))
    return df


def run_checkpoints(
    spark: Any,
    suites: list[dict[str, Any]],
    patterns: dict[str, str],
    data_docs: Path | None,
    now: dt.datetime,
    result_format: dict[str, Any],
) -> tuple[int, list[Failure]]:
    """checks._run_checkpoint on Spark: one Checkpoint per batch (its dataframe as the batch
    parameter), one run id, Data Docs built once over every result."""
    import great_expectations as gx
    from great_expectations.checkpoint.checkpoint import CheckpointResult
    from great_expectations.core.run_identifier import RunIdentifier

    from event_analytics.quality.checks import (
        add_validation_definition,
        batch_of,
        data_docs_actions,
        gx_context,
        tally,
    )

    context = gx_context()
    datasource = context.data_sources.add_spark(name="warehouse")
    batches: dict[str, tuple[Any, Any, list[Any]]] = {}  # batch key -> (batch definition, dataframe, definitions)
    missing: list[Failure] = []
    for suite_data in suites:
        relation, row_filter, batch_key = batch_of(suite_data)
        if not spark.catalog.tableExists(relation):
            # Only a suite that suites_for does not check (landing.rejected_files) can get here.
            categories = {e["meta"].get(CATEGORY_META) for e in suite_data["expectations"]}
            category = categories.pop() if len(categories) == 1 else None
            missing.append(
                Failure(suite_data["name"], relation, "relation_exists", None, "relation not found", [], category)
            )
            continue
        if batch_key not in batches:
            asset = datasource.add_dataframe_asset(name=batch_key)
            definition = asset.add_batch_definition_whole_dataframe("whole dataframe")
            batches[batch_key] = (definition, frame(spark, relation, row_filter), [])
        definition, _, definitions = batches[batch_key]
        definitions.append(add_validation_definition(context, for_spark(suite_data), definition))
    actions = data_docs_actions(context, data_docs, patterns)
    run_id = RunIdentifier(run_time=dt.datetime.now(dt.UTC))
    run_results: dict[Any, Any] = {}
    checkpoint = None
    for number, (_, df, definitions) in enumerate(batches.values(), start=1):
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"{CHECKPOINT_NAME}.{number}",
                validation_definitions=definitions,
                actions=[],
                result_format=result_format,
            )
        )
        result = checkpoint.run(
            batch_parameters={"dataframe": df}, expectation_parameters={NOW_PARAMETER: now}, run_id=run_id
        )
        run_results.update(result.run_results)
    if actions and run_results:
        # What Checkpoint._run_actions does, once for all the Checkpoints' results.
        everything = CheckpointResult(run_id=run_id, run_results=run_results, checkpoint_config=checkpoint)
        for action in actions:
            action._data_context = context
            action.run(checkpoint_result=everything)
    expectations, failures = tally(run_results, patterns)
    return expectations, missing + failures


def validate_in_child(folder: Path, request: dict[str, Any]) -> ValidationReport:
    """The child's work: checks.validate_relations over the Spark folder."""
    from event_analytics.parity import open_spark_session
    from event_analytics.quality.checks import validate_relations

    started = time.perf_counter()
    # Naive times (the suites' `now`, row filters) are UTC, as in the session (spark.sql.session.timeZone).
    os.environ["TZ"] = "UTC"
    time.tzset()
    data_docs = Path(request["data_docs"]) if request["data_docs"] else None
    spark = open_spark_session(folder, "event-analytics validate")
    try:
        relations = catalogue(spark, {*SCHEMA_SUITE_FOLDERS.values(), request["pii_schema"]})

        def run(
            suites: list[dict[str, Any]], patterns: dict[str, str], now: dt.datetime, result_format: dict[str, Any]
        ) -> tuple[int, list[Failure]]:
            return run_checkpoints(spark, suites, patterns, data_docs, now, result_format)

        return validate_relations(
            relations,
            run,
            data_docs=data_docs,
            pii_schema=request["pii_schema"],
            changed_since=request["changed_since"],
            dbt_tested=request["dbt_tested"],
            rejected_files_since=request["rejected_files_since"],
            future_tolerance_minutes=request["future_tolerance_minutes"],
            started=started,
        )
    finally:
        spark.stop()


def _main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m event_analytics.spark_validate SPARK_DIR WORK_DIR", file=sys.stderr)
        return 2
    folder, work = Path(argv[0]), Path(argv[1])
    request = json.loads((work / "request.json").read_text())
    try:
        report = validate_in_child(folder, request)
    except ConfigError as exc:
        (work / "report.json").write_text(json.dumps({"config_error": str(exc)}))
        return 0
    data = {
        "suites": report.suites,
        "expectations": report.expectations,
        "failures": [dataclasses.asdict(failure) for failure in report.failures],
        "seconds": report.seconds,
        "data_docs": str(report.data_docs) if report.data_docs is not None else None,
    }
    (work / "report.json").write_text(json.dumps(data))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
