"""Run the GX suites against the warehouse through one Checkpoint, as SQL in DuckDB.

GX opens the DuckDB file read-only and gives it back before returning (gx_compat.release), so dbt
can write again. The Checkpoint's action updates Data Docs; the failures come back to the caller,
which alerts (alerts.py) with every other check's.

What does not depend on the engine (which suites, the two passes, suites and validation
definitions, Data Docs, failures, severities, problems) is shared with spark_validate.py, which
runs the same suites on a Spark build through GX's Spark datasource: validate_relations takes the
catalogue and the engine's way of running a Checkpoint.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from event_analytics.alerts import Problem
from event_analytics.plan import compile_plan, read_plan
from event_analytics.project import ConfigError
from event_analytics.quality.masking import mask
from event_analytics.quality.suites import (
    CATEGORY_META,
    DBT_TEST_META,
    LANDING_FILES,
    NOW_PARAMETER,
    PII_SCHEMA,
    PLAN_CONFORMANCE,
    Relation,
    expectation,
    load_schema_suites,
    pii_suite,
    reviewed_column_names,
)

DATA_DOCS_SITE = "event_analytics"
# A column saying when the run that (re)built a row started: incremental models and the marts
# over them carry one.
ROW_VERSION_COLUMNS = ("_processed_at", "_loaded_at")
# Expectations about the whole relation; every other kind holds or fails row by row.
WHOLE_RELATION_EXPECTATIONS = {
    "expect_column_values_to_be_unique",
    "expect_compound_columns_to_be_unique",
    "expect_table_columns_to_match_set",
    "expect_column_values_to_be_of_type",
}
CHECKPOINT_NAME = "event_analytics"
EXAMPLES_SHOWN = 5


@dataclass(frozen=True)
class Failure:
    suite: str
    relation: str
    expectation: str
    column: str | None
    detail: str
    examples: list[str] = field(default_factory=list)
    category: str | None = None  # suites.CATEGORY_META of the expectation

    def __str__(self) -> str:
        target = f"{self.relation}.{self.column}" if self.column else self.relation
        shown = f" e.g. {', '.join(self.examples)}" if self.examples else ""
        return f"{self.expectation} failed on {target}: {self.detail}{shown}"


@dataclass
class ValidationReport:
    suites: int
    expectations: int
    failures: list[Failure]
    seconds: float
    data_docs: Path | None

    @property
    def success(self) -> bool:
        return not self.failures


def catalogue(warehouse: Path) -> dict[Relation, list[tuple[str, str]]]:
    """Every table and view with its (column, DuckDB type) list, in column order."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns "
            "where table_catalog = current_database() order by table_schema, table_name, ordinal_position"
        ).fetchall()
    relations: dict[Relation, list[tuple[str, str]]] = {}
    for schema, table, column, data_type in rows:
        relations.setdefault(Relation(schema, table), []).append((column, data_type))
    return relations


def suites_to_run(
    warehouse: Path,
    plan: dict[str, Any],
    pii_schema: str = PII_SCHEMA,
    changed_since: str | None = None,
    dbt_tested: bool = False,
) -> tuple[list[dict[str, Any]], list[Failure]]:
    """Schema suites from expectations/ and PII suites for every relation of `pii_schema`; a schema
    suite whose relation does not exist is a failure by itself. With `changed_since`, see
    scoped_to_changed_rows; with `dbt_tested`, without_dbt_tested."""
    return suites_for(catalogue(warehouse), plan, pii_schema, changed_since, dbt_tested)


def suites_for(
    relations: dict[Relation, list[tuple[str, str]]],
    plan: dict[str, Any],
    pii_schema: str = PII_SCHEMA,
    changed_since: str | None = None,
    dbt_tested: bool = False,
) -> tuple[list[dict[str, Any]], list[Failure]]:
    """suites_to_run for a catalogue read by the caller (Spark's: spark_validate.catalogue), its
    types named as DuckDB's (VARCHAR, JSON, ...): what pii_suite reads of them."""
    reviewed = reviewed_column_names()
    suites, missing = [], []
    for suite in load_schema_suites():
        schema, name = suite["meta"]["relation"].split(".", 1)
        if Relation(schema, name) in relations:
            suites.append(suite)
        else:
            missing.append(
                Failure(suite["name"], suite["meta"]["relation"], "relation_exists", None, "relation not found")
            )
    for relation, columns in relations.items():
        if relation.schema == pii_schema:
            suites.append(pii_suite(relation, columns, plan, reviewed.get(str(relation), set())))
    if dbt_tested:
        suites = without_dbt_tested(suites)
    if changed_since is not None:
        suites = scoped_to_changed_rows(suites, relations, changed_since)
    return suites, missing


def without_dbt_tested(suites: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Suites without the expectations that repeat a dbt data test, for validation straight after a
    dbt build that ran those tests on the same tables and would have stopped the run had one failed.

    At 10M events GX's uniqueness checks (a window count per key) were half of an incremental
    run's validation, repeating dbt's unique tests of a few seconds earlier.
    """
    return [
        {**suite, "expectations": [e for e in suite["expectations"] if DBT_TEST_META not in e["meta"]]}
        for suite in suites
    ]


def scoped_to_changed_rows(
    suites: list[dict[str, Any]], relations: dict[Relation, list[tuple[str, str]]], changed_since: str
) -> list[dict[str, Any]]:
    """Suites whose row-by-row expectations look only at rows (re)built after `changed_since`, on
    relations that say when each row was built; expectations about the whole relation (uniqueness,
    columns, types) still see all of it.

    Rows built earlier passed the same suites in a validated run (the caller gives the start of
    the last one, and no time when suites or code changed since): at 10M events rescanning them
    was most of an incremental run's validation.
    """
    scoped = []
    for suite in suites:
        schema, name = suite["meta"]["relation"].split(".", 1)
        columns = [column for column, _ in relations.get(Relation(schema, name), [])]
        version = next((column for column in ROW_VERSION_COLUMNS if column in columns), None)
        whole = [e for e in suite["expectations"] if e["type"] in WHOLE_RELATION_EXPECTATIONS]
        by_row = [e for e in suite["expectations"] if e["type"] not in WHOLE_RELATION_EXPECTATIONS]
        if version is None or not by_row:
            scoped.append(suite)
            continue
        if whole:
            scoped.append({**suite, "expectations": whole})
        since = changed_since.replace("'", "''")
        scoped.append(
            {
                **suite,
                "name": f"{suite['name']}.changed_rows",
                "expectations": by_row,
                "meta": {**suite["meta"], "row_filter": f"{version} > timestamp '{since}'"},
            }
        )
    return scoped


def rejected_files_suite(since: str) -> dict[str, Any]:
    """No landing file was rejected since `since`: the files rejected then are the failure's
    examples, in the alert and Data Docs."""
    return {
        "name": "landing.rejected_files",
        "meta": {
            "relation": "quarantine.rejected_files",
            "row_filter": f"rejected_at >= timestamp '{since.replace(chr(39), chr(39) * 2)}'",
        },
        "expectations": [
            expectation(
                "expect_column_values_to_be_in_set", {CATEGORY_META: LANDING_FILES}, column="source_file", value_set=[]
            )
        ],
    }


def problems_of(failures: list[Failure], tracking_plan_mode: str) -> list[Problem]:
    """Each failure as the alerts.Problem a run alerts and exits by (what job.gx_audit does for
    DuckDB): one per suite, relation, column and expectation, a scoped suite's under its own name."""
    return [
        Problem(
            f"gx:{failure.suite.removesuffix('.changed_rows')}",
            failure.relation,
            failure.column,
            failure.expectation,
            severity_of(failure, tracking_plan_mode),  # type: ignore[arg-type]
            failure.detail,
            tuple(failure.examples),
        )
        for failure in failures
    ]


def severity_of(failure: Failure, tracking_plan_mode: str) -> str:
    """error fails the run; warn alerts and publishes. Rejected landing files (the good files' data
    is still right) and, in flag mode, unplanned events (let through on purpose) are warnings;
    everything else the suites check (schema, keys, ranges, PII) is an error."""
    if failure.category == LANDING_FILES:
        return "warn"
    if failure.category == PLAN_CONFORMANCE and tracking_plan_mode == "flag":
        return "warn"
    return "error"


def preload_gx() -> threading.Thread:
    """Import GX in a thread (3.5 s of CPU on these machines) while dbt builds in its own process.
    Join it before touching DuckDB or GX here: concurrent imports of one module can hand a thread a
    half-initialised module. An import error is left for validate_warehouse to raise."""

    def load() -> None:
        with contextlib.suppress(Exception):
            import great_expectations  # noqa: F401

            from event_analytics.quality import actions, gx_compat  # noqa: F401

    thread = threading.Thread(target=load, name="preload-gx", daemon=True)
    thread.start()
    return thread


def validate_warehouse(
    warehouse: Path,
    *,
    data_docs: Path | None = None,
    pii_schema: str = PII_SCHEMA,
    changed_since: str | None = None,
    dbt_tested: bool = False,
    rejected_files_since: str | None = None,
    future_tolerance_minutes: float = 0.0,
) -> ValidationReport:
    """Run every suite on the DuckDB file; see validate_relations."""
    if not warehouse.is_file():
        raise ConfigError(f"warehouse {warehouse} does not exist: run the pipeline first")
    started = time.perf_counter()

    def run(
        suites: list[dict[str, Any]], patterns: dict[str, str], now: dt.datetime, result_format: dict[str, Any]
    ) -> tuple[int, list[Failure]]:
        return _run_checkpoint(warehouse, suites, patterns, data_docs, now, result_format=result_format)

    report = validate_relations(
        catalogue(warehouse),
        run,
        data_docs=data_docs,
        pii_schema=pii_schema,
        changed_since=changed_since,
        dbt_tested=dbt_tested,
        rejected_files_since=rejected_files_since,
        future_tolerance_minutes=future_tolerance_minutes,
        started=started,
    )
    # GX's objects are gone now; collecting them closes the last DuckDB handle (gx_compat, fact 4).
    gc.collect()
    report.seconds = time.perf_counter() - started
    return report


# Runs the suites through GX on one engine: (suites, PII patterns, now, result format) ->
# (expectations run, failures).
RunSuites = Callable[[list[dict[str, Any]], dict[str, str], dt.datetime, dict[str, Any]], tuple[int, list[Failure]]]


def validate_relations(
    relations: dict[Relation, list[tuple[str, str]]],
    run: RunSuites,
    *,
    data_docs: Path | None = None,
    pii_schema: str = PII_SCHEMA,
    changed_since: str | None = None,
    dbt_tested: bool = False,
    rejected_files_since: str | None = None,
    future_tolerance_minutes: float = 0.0,
    started: float | None = None,
) -> ValidationReport:
    """Run every suite for the catalogue `relations` with `run`, the engine's part (DuckDB's
    _run_checkpoint, spark_validate's); failures come back (masked), Data Docs are updated by a GX
    action.

    A first pass asks GX only whether each expectation holds (BOOLEAN_ONLY): it then skips the
    query for offending values that every row-level expectation otherwise runs, even when nothing
    is wrong (measured at 10M events: a third of validation). Only when something failed does a
    second pass run with counts and examples. With `rejected_files_since` (a run's start), a
    landing file rejected since then (quarantine.rejected_files) is a failure too (a warning: see
    severity_of). Timestamps may lie up to `future_tolerance_minutes` after now, the clock skew
    staging accepts.
    """
    started = time.perf_counter() if started is None else started
    plan = compile_plan(read_plan())
    suites, failures = suites_for(relations, plan, pii_schema, changed_since, dbt_tested)
    if rejected_files_since is not None:
        suites.append(rejected_files_suite(rejected_files_since))
    patterns = plan["pii"]["redact"]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(minutes=future_tolerance_minutes)
    expectations, suite_failures = run(suites, patterns, now, {"result_format": "BOOLEAN_ONLY"})
    if suite_failures or failures:
        expectations, suite_failures = run(
            suites, patterns, now, {"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES_SHOWN}
        )
    return ValidationReport(
        suites=len(suites),
        expectations=expectations,
        failures=failures + suite_failures,
        seconds=time.perf_counter() - started,
        data_docs=(data_docs / "index.html") if data_docs is not None else None,
    )


def _run_checkpoint(
    warehouse: Path,
    suites: list[dict[str, Any]],
    patterns: dict[str, str],
    data_docs: Path | None,
    now: dt.datetime,
    result_format: dict[str, Any],
) -> tuple[int, list[Failure]]:

    import great_expectations as gx

    from event_analytics.quality import gx_compat

    gx_compat.install()
    # GX warns once per type expectation that DuckDB has no dialect module of its own (gx_compat 6).
    logging.getLogger("great_expectations.expectations.type_comparison").setLevel(logging.ERROR)
    context = gx_context()
    datasource = context.data_sources.add_sql(
        name="warehouse",
        connection_string=f"duckdb:///{warehouse.resolve()}",
        kwargs={"connect_args": {"read_only": True}},
    )
    try:
        definitions = []
        assets: dict[str, Any] = {}
        for suite_data in suites:
            relation, row_filter, batch_key = batch_of(suite_data)
            if batch_key not in assets:
                schema, name = relation.split(".", 1)
                if row_filter:
                    asset = datasource.add_query_asset(
                        name=batch_key, query=f'select * from "{schema}"."{name}" where {row_filter}'
                    )
                else:
                    asset = datasource.add_table_asset(name=relation, table_name=name, schema_name=schema)
                assets[batch_key] = asset.add_batch_definition_whole_table("whole table")
            definitions.append(add_validation_definition(context, suite_data, assets[batch_key]))
        actions = data_docs_actions(context, data_docs, patterns)
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=CHECKPOINT_NAME,
                validation_definitions=definitions,
                actions=actions,
                result_format=result_format,
            )
        )
        result = checkpoint.run(expectation_parameters={NOW_PARAMETER: now})
        return tally(result.run_results, patterns)
    finally:
        gx_compat.release(datasource)


# The engine-neutral pieces of a GX run (DuckDB's above, spark_validate's).


def gx_context() -> Any:
    """An ephemeral Data Context (nothing written but Data Docs), without progress bars."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def batch_of(suite_data: dict[str, Any]) -> tuple[str, str | None, str]:
    """(relation, row filter, batch key) of a suite: suites with one key validate one batch."""
    relation = suite_data["meta"]["relation"]
    row_filter = suite_data["meta"].get("row_filter")
    return relation, row_filter, f"{relation} where {row_filter}" if row_filter else relation


def add_validation_definition(context: Any, suite_data: dict[str, Any], batch_definition: Any) -> Any:
    """The suite (plain data, suites.py) added to the context, with its validation definition."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    suite = context.suites.add(
        gx.ExpectationSuite(
            name=suite_data["name"],
            meta=suite_data["meta"],
            expectations=[
                ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"], meta=e["meta"]).to_domain_obj()
                for e in suite_data["expectations"]
            ],
        )
    )
    return context.validation_definitions.add(
        gx.ValidationDefinition(name=suite_data["name"], data=batch_definition, suite=suite)
    )


def data_docs_actions(context: Any, data_docs: Path | None, patterns: dict[str, str]) -> list[Any]:
    """The Checkpoint's actions: Data Docs in `data_docs`, values masked (actions.py); none without."""
    from event_analytics.quality.actions import UpdateDataDocsOnce

    if data_docs is None:
        return []
    context.add_data_docs_site(
        DATA_DOCS_SITE,
        {
            "class_name": "SiteBuilder",
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(data_docs.resolve()),
            },
        },
    )
    return [UpdateDataDocsOnce(name="update_data_docs", site_names=[DATA_DOCS_SITE], masking_patterns=patterns)]


def tally(run_results: dict[Any, Any], patterns: dict[str, str]) -> tuple[int, list[Failure]]:
    """(expectations run, failures) of a Checkpoint's results."""
    expectations, failures = 0, []
    for suite_result in run_results.values():
        expectations += len(suite_result.results)
        failures.extend(failures_of(suite_result, patterns))
    return expectations, failures


def failures_of(suite_result: Any, patterns: dict[str, str]) -> list[Failure]:
    """The failed expectations of one suite's result, offending values masked."""
    relation = suite_result.suite_name.split(".", 1)[1]  # suites are named <kind>.<schema>.<relation>
    failures = []
    for result in suite_result.results:
        if result.success:
            continue
        config = result.expectation_config
        info = result.exception_info or {}
        if info.get("raised_exception"):
            detail = f"raised {info.get('exception_message')}"
            examples: list[str] = []
        else:
            detail, examples = describe(result.result or {}, patterns)
        failures.append(
            Failure(
                suite_result.suite_name,
                relation,
                config.type,
                config.kwargs.get("column"),
                detail,
                examples,
                (config.meta or {}).get(CATEGORY_META),
            )
        )
    return failures


def describe(result: dict[str, Any], patterns: dict[str, str]) -> tuple[str, list[str]]:
    if "unexpected_count" in result:
        examples = [mask(str(value), patterns) for value in (result.get("partial_unexpected_list") or [])]
        return f"{result['unexpected_count']} unexpected of {result.get('element_count')} rows", examples
    observed = result.get("observed_value")
    details = result.get("details") or {}
    mismatched = details.get("mismatched")
    if mismatched:
        return f"observed {mask(str(observed), patterns)}; mismatched {mismatched}", []
    return f"observed {mask(str(observed), patterns)}", []
