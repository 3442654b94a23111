"""The GX expectation suites: schema suites written to expectations/, PII suites built per run.

Schema suites (one per stg and mart model) are generated from the models' `_models.yml` (column
names, data types, dbt tests) and the tracking plan, written as JSON to expectations/ and checked in
CI to be current (`event-analytics suites generate --check`), so a reviewer sees every change to
what is enforced. PII suites are built at validation time from the plan's patterns and the
warehouse's catalogue, so a new mart is covered without editing a suite.

Both are plain data here (JSON-ready dicts): GX is imported only to run them (checks.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from event_analytics.plan import compile_plan, read_plan, suggests_pii
from event_analytics.project import ConfigError, project_dir

# Model folders validated by schema suites, and the warehouse schema each builds into.
SCHEMA_SUITE_FOLDERS = {"staging": "staging", "marts": "marts"}
# The schema whose every relation gets a PII suite.
PII_SCHEMA = "marts"
RATE_COLUMN = re.compile(r"(_rate$|^conversion_from_)")
NOW_PARAMETER = "now_utc"
# Names the dbt data test an expectation repeats.
DBT_TEST_META = "dbt_test"
# Times read from the sender's device clock as sent, kept for reference: a clock running ahead is
# what Segment's correction (occurred_at) exists for, so they may lie in the future.
CLIENT_CLOCK_COLUMNS = {"sent_at", "original_timestamp"}
# What kind of rule an expectation enforces, where its severity depends on it (checks.severity_of).
CATEGORY_META = "category"
PLAN_CONFORMANCE = "plan_conformance"
LANDING_FILES = "landing_files"


def expectations_dir() -> Path:
    return project_dir() / "expectations"


@dataclass(frozen=True)
class Relation:
    schema: str
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


def expectation(kind: str, meta: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": meta or {}}


def _mirrored(test_name: str, tests: set[str]) -> dict[str, Any]:
    """Meta of an expectation that repeats the model's dbt data test `test_name`, if it has one:
    a `run` leaves those to dbt build (checks.without_dbt_tested)."""
    return {DBT_TEST_META: test_name} if test_name in tests else {}


def _fails_the_build(config: dict[str, Any]) -> bool:
    """An unconditional test that fails dbt build when it fails (not a warning)."""
    return not config.get("where") and str(config.get("severity", "error")).lower() != "warn"


def _test_name_and_args(test: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    if isinstance(test, str):
        return test, {}, {}
    name, body = next(iter(test.items()))
    body = body or {}
    return name, body.get("arguments") or {}, body.get("config") or {}


def model_specs() -> list[tuple[Relation, dict[str, Any]]]:
    """(relation, model entry of its _models.yml) for every model of SCHEMA_SUITE_FOLDERS."""
    specs = []
    for folder, schema in SCHEMA_SUITE_FOLDERS.items():
        path = project_dir() / "models" / folder / "_models.yml"
        try:
            models = yaml.safe_load(path.read_text())["models"]
        except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        specs.extend((Relation(schema, model["name"]), model) for model in models)
    return specs


def schema_suite(relation: Relation, model: dict[str, Any], planned_events: list[str]) -> dict[str, Any]:
    """Exact columns and types, keys unique and not null, ranges, no future timestamps."""
    columns = model.get("columns") or []
    expectations = [
        expectation(
            "expect_table_columns_to_match_set", column_set=[column["name"] for column in columns], exact_match=True
        )
    ]
    for column in columns:
        name = column["name"]
        data_type = str(column.get("data_type") or "").upper()
        if not data_type:
            raise ConfigError(f"{relation}.{name} has no data_type in its _models.yml")
        expectations.append(expectation("expect_column_values_to_be_of_type", column=name, type_=data_type))
        tests = [_test_name_and_args(test) for test in column.get("data_tests") or []]
        constraints = {constraint.get("type") for constraint in column.get("constraints") or []}
        unconditional = {test for test, _, config in tests if not config.get("where")}
        failing_the_build = {test for test, _, config in tests if _fails_the_build(config)}
        if "not_null" in unconditional or "not_null" in constraints:
            expectations.append(
                expectation(
                    "expect_column_values_to_not_be_null", _mirrored("not_null", failing_the_build), column=name
                )
            )
        if "unique" in unconditional or "primary_key" in constraints:
            expectations.append(
                expectation("expect_column_values_to_be_unique", _mirrored("unique", failing_the_build), column=name)
            )
        bounds = [args for test, args, config in tests if test == "accepted_range_inclusive" and not config]
        meta = _mirrored("accepted_range_inclusive", failing_the_build)
        if not bounds and RATE_COLUMN.search(name):
            bounds = [{"min_value": 0, "max_value": 1}]
        for args in bounds:
            expectations.append(
                expectation(
                    "expect_column_values_to_be_between",
                    meta,
                    column=name,
                    min_value=args.get("min_value"),
                    max_value=args.get("max_value"),
                )
            )
        if data_type.startswith("TIMESTAMP") and name not in CLIENT_CLOCK_COLUMNS:
            # Per value, not the column's max: an empty table or an all-null column passes.
            expectations.append(
                expectation("expect_column_values_to_be_between", column=name, max_value={"$PARAMETER": NOW_PARAMETER})
            )
    for test in model.get("data_tests") or []:
        test_name, args, config = _test_name_and_args(test)
        if test_name == "unique_combination_of_columns" and not config.get("where"):
            meta = _mirrored(test_name, {test_name} if _fails_the_build(config) else set())
            if len(args["columns"]) == 1:
                expectations.append(expectation("expect_column_values_to_be_unique", meta, column=args["columns"][0]))
            else:
                expectations.append(
                    expectation("expect_compound_columns_to_be_unique", meta, column_list=args["columns"])
                )
    if str(relation) == "marts.fct_events":
        # In flag mode unplanned events pass on purpose: then a warning, not a failure (checks.severity_of).
        expectations.append(
            expectation(
                "expect_column_values_to_be_in_set",
                {CATEGORY_META: PLAN_CONFORMANCE},
                column="event_name",
                value_set=planned_events,
            )
        )
    return {"name": f"schema.{relation}", "expectations": expectations, "meta": {"relation": str(relation)}}


def schema_suites() -> list[dict[str, Any]]:
    planned = sorted(compile_plan(read_plan())["events"])
    return [schema_suite(relation, model, planned) for relation, model in model_specs()]


def render_suite(suite: dict[str, Any]) -> str:
    return json.dumps(suite, indent=2, sort_keys=True) + "\n"


def suite_path(suite: dict[str, Any], folder: Path | None = None) -> Path:
    return (folder or expectations_dir()) / f"{suite['name']}.json"


def stale_suite_files(folder: Path | None = None) -> list[Path]:
    """Suite files that differ from what the models and plan generate, or should not exist."""
    folder = folder or expectations_dir()
    expected = {suite_path(suite, folder): render_suite(suite) for suite in schema_suites()}
    stale = [path for path, text in expected.items() if not path.is_file() or path.read_text() != text]
    stale += [path for path in folder.glob("schema.*.json") if path not in expected]
    return sorted(stale)


def write_schema_suites(folder: Path | None = None) -> list[Path]:
    folder = folder or expectations_dir()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    suites = schema_suites()
    keep = {suite_path(suite, folder) for suite in suites}
    for path in folder.glob("schema.*.json"):
        if path not in keep:
            path.unlink()
    for suite in suites:
        path = suite_path(suite, folder)
        path.write_text(render_suite(suite))
        written.append(path)
    return written


def load_schema_suites(folder: Path | None = None) -> list[dict[str, Any]]:
    folder = folder or expectations_dir()
    return [json.loads(path.read_text()) for path in sorted(folder.glob("schema.*.json"))]


def reviewed_column_names() -> dict[str, set[str]]:
    """Columns whose PII-like names were reviewed: `meta: {pii: false}` in their _models.yml."""
    reviewed: dict[str, set[str]] = {}
    for relation, model in model_specs():
        for column in model.get("columns") or []:
            meta = (column.get("config") or {}).get("meta") or column.get("meta") or {}
            if meta.get("pii") is False:
                reviewed.setdefault(str(relation), set()).add(column["name"])
    return reviewed


def pii_suite(
    relation: Relation, columns: list[tuple[str, str]], plan: dict[str, Any], reviewed: set[str]
) -> dict[str, Any]:
    """No value of a text or JSON column matches a PII pattern; no column has a PII name.

    One regex expectation per column (all patterns in one alternation: one scan, not four; the
    offending values, masked, show which kind leaked). `columns` is (name, DuckDB type) from the
    catalogue, so the suite follows the relation's current shape.
    """
    pii = plan["pii"]
    allowed = [name for name, _ in columns if name in reviewed or not suggests_pii(name, pii["name_hints"])]
    expectations = [expectation("expect_table_columns_to_match_set", column_set=allowed, exact_match=True)]
    for name, data_type in columns:
        if data_type.upper() not in {"VARCHAR", "JSON"}:
            continue
        expectations.append(
            expectation(
                "expect_column_values_to_not_match_regex",
                meta={"pii_kinds": list(pii["redact"])},
                column=name,
                regex=pii["redact_any"],
            )
        )
    return {"name": f"pii.{relation}", "expectations": expectations, "meta": {"relation": str(relation)}}
