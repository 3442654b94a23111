"""The GX suites as data: what the schema and PII suites expect, the check that they are current, and
which rows a scheduled run's validation looks at."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from event_analytics.plan import compile_plan, read_plan
from event_analytics.quality.checks import scoped_to_changed_rows, without_dbt_tested
from event_analytics.quality.masking import mask
from event_analytics.quality.suites import (
    NOW_PARAMETER,
    Relation,
    expectation,
    expectations_dir,
    pii_suite,
    schema_suite,
    stale_suite_files,
)
from event_analytics.state import record_success, validated_through

MODEL = {
    "name": "m",
    "columns": [
        {"name": "id", "data_type": "varchar", "data_tests": ["unique", "not_null"]},
        {"name": "note", "data_type": "varchar", "data_tests": [{"not_null": {"config": {"where": "id > 1"}}}]},
        {"name": "retention_rate", "data_type": "double"},
        {
            "name": "p_value",
            "data_type": "double",
            "data_tests": [{"accepted_range_inclusive": {"arguments": {"min_value": 0, "max_value": 1}}}],
        },
        {"name": "seen_at", "data_type": "timestamp", "constraints": [{"type": "not_null"}]},
    ],
    "data_tests": [{"unique_combination_of_columns": {"arguments": {"columns": ["id", "seen_at"]}}}],
}


def kinds(suite: dict) -> list[tuple]:
    return [(e["type"], e["kwargs"].get("column") or e["kwargs"].get("column_list")) for e in suite["expectations"]]


def test_schema_suite_from_a_model() -> None:
    suite = schema_suite(Relation("marts", "m"), MODEL, ["a_b"])
    assert suite["name"] == "schema.marts.m"
    assert kinds(suite) == [
        ("expect_table_columns_to_match_set", None),
        ("expect_column_values_to_be_of_type", "id"),
        ("expect_column_values_to_not_be_null", "id"),
        ("expect_column_values_to_be_unique", "id"),
        ("expect_column_values_to_be_of_type", "note"),  # a conditional test is not a key
        ("expect_column_values_to_be_of_type", "retention_rate"),
        ("expect_column_values_to_be_between", "retention_rate"),  # a rate by its name
        ("expect_column_values_to_be_of_type", "p_value"),
        ("expect_column_values_to_be_between", "p_value"),
        ("expect_column_values_to_be_of_type", "seen_at"),
        ("expect_column_values_to_not_be_null", "seen_at"),
        ("expect_column_values_to_be_between", "seen_at"),
        ("expect_compound_columns_to_be_unique", ["id", "seen_at"]),
    ]
    by_column = {(e["type"], e["kwargs"].get("column")): e["kwargs"] for e in suite["expectations"]}
    assert by_column[("expect_column_values_to_be_of_type", "id")]["type_"] == "VARCHAR"
    assert by_column[("expect_column_values_to_be_between", "retention_rate")] == {
        "column": "retention_rate",
        "min_value": 0,
        "max_value": 1,
    }
    assert by_column[("expect_column_values_to_be_between", "seen_at")]["max_value"] == {"$PARAMETER": NOW_PARAMETER}
    # one column's key, scoped by row version in dbt, is that column's uniqueness over every row to GX
    scoped = {"unique_combination_of_columns": {"arguments": {"columns": ["note"], "row_version": "seen_at"}}}
    suite = schema_suite(Relation("marts", "m"), {**MODEL, "data_tests": [scoped]}, [])
    assert suite["expectations"][-1] == {
        "type": "expect_column_values_to_be_unique",
        "kwargs": {"column": "note"},
        "meta": {"dbt_test": "unique_combination_of_columns"},
    }
    fct = schema_suite(Relation("marts", "fct_events"), {"name": "fct_events", "columns": []}, ["a_b", "c_d"])
    assert fct["expectations"][-1]["kwargs"] == {"column": "event_name", "value_set": ["a_b", "c_d"]}


def test_expectations_repeating_a_failing_dbt_test_say_so_and_a_run_leaves_them_to_dbt() -> None:
    model = {
        **MODEL,
        "columns": [
            *MODEL["columns"],
            {"name": "code", "data_type": "varchar", "data_tests": [{"unique": {"config": {"severity": "warn"}}}]},
            {"name": "score", "data_type": "double", "constraints": [{"type": "not_null"}]},
        ],
    }
    suite = schema_suite(Relation("marts", "m"), model, [])
    mirrored = [
        (kind, column, e["meta"])
        for (kind, column), e in zip(kinds(suite), suite["expectations"], strict=True)
        if e["meta"]
    ]
    assert mirrored == [
        ("expect_column_values_to_not_be_null", "id", {"dbt_test": "not_null"}),
        ("expect_column_values_to_be_unique", "id", {"dbt_test": "unique"}),
        ("expect_column_values_to_be_between", "p_value", {"dbt_test": "accepted_range_inclusive"}),
        ("expect_compound_columns_to_be_unique", ["id", "seen_at"], {"dbt_test": "unique_combination_of_columns"}),
    ]
    # a warning does not stop dbt build, and a constraint or a rate's bounds are not dbt tests
    (left,) = without_dbt_tested([suite])
    assert kinds(left) == [
        ("expect_table_columns_to_match_set", None),
        ("expect_column_values_to_be_of_type", "id"),
        ("expect_column_values_to_be_of_type", "note"),
        ("expect_column_values_to_be_of_type", "retention_rate"),
        ("expect_column_values_to_be_between", "retention_rate"),
        ("expect_column_values_to_be_of_type", "p_value"),
        ("expect_column_values_to_be_of_type", "seen_at"),
        ("expect_column_values_to_not_be_null", "seen_at"),
        ("expect_column_values_to_be_between", "seen_at"),
        ("expect_column_values_to_be_of_type", "code"),
        ("expect_column_values_to_be_unique", "code"),
        ("expect_column_values_to_be_of_type", "score"),
        ("expect_column_values_to_not_be_null", "score"),
    ]


def test_pii_suite_covers_text_and_json_columns_and_names() -> None:
    plan = compile_plan(read_plan())
    columns = [
        ("user_key", "VARCHAR"),
        ("contact_email", "VARCHAR"),
        ("payload", "JSON"),
        ("n", "BIGINT"),
        ("event_name", "VARCHAR"),
    ]
    suite = pii_suite(Relation("marts", "x"), columns, plan, reviewed={"event_name"})
    names = suite["expectations"][0]
    # contact_email suggests PII and was not reviewed: the exact set without it fails on the table
    assert names["kwargs"] == {"column_set": ["user_key", "payload", "n", "event_name"], "exact_match": True}
    regex = [e["kwargs"]["column"] for e in suite["expectations"][1:]]
    assert regex == ["user_key", "contact_email", "payload", "event_name"]
    assert all(e["kwargs"]["regex"] == plan["pii"]["redact_any"] for e in suite["expectations"][1:])


def test_stale_suites_are_found(tmp_path: Path) -> None:
    folder = tmp_path / "expectations"
    shutil.copytree(expectations_dir(), folder)
    assert stale_suite_files(folder) == []
    changed = folder / "schema.marts.dim_users.json"
    changed.write_text(changed.read_text().replace("VARCHAR", "TEXT"))
    extra = folder / "schema.marts.gone.json"
    extra.write_text("{}")
    (folder / "schema.marts.fct_events.json").unlink()
    assert stale_suite_files(folder) == sorted([changed, extra, folder / "schema.marts.fct_events.json"])


def test_offending_values_are_masked() -> None:
    patterns = compile_plan(read_plan())["pii"]["redact"]
    assert mask("invoice for jane.doe@example.org", patterns) == "invoice for j***(email)"
    assert mask("call 555-123-4567 from 203.0.113.45", patterns) == "call 5***(phone) from 2***(ip)"
    assert mask("x" * 100, patterns) == "x" * 79 + "…"


def test_changed_rows_scope_splits_row_by_row_expectations_from_whole_relation_ones() -> None:
    suite = {
        "name": "schema.marts.fct_sessions",
        "meta": {"relation": "marts.fct_sessions"},
        "expectations": [
            expectation("expect_table_columns_to_match_set", column_set=["session_id", "_processed_at"]),
            expectation("expect_column_values_to_be_unique", column="session_id"),
            expectation("expect_column_values_to_not_be_null", column="session_id"),
            expectation("expect_column_values_to_be_between", column="event_count", min_value=1),
        ],
    }
    unversioned = {**suite, "name": "schema.marts.dim_users", "meta": {"relation": "marts.dim_users"}}
    relations = {
        Relation("marts", "fct_sessions"): [("session_id", "VARCHAR"), ("_processed_at", "TIMESTAMP")],
        Relation("marts", "dim_users"): [("session_id", "VARCHAR")],
    }
    scoped = scoped_to_changed_rows([suite, unversioned], relations, "2026-11-26 10:00:00")
    assert [(s["name"], s["meta"].get("row_filter"), kinds(s)) for s in scoped] == [
        (
            "schema.marts.fct_sessions",
            None,
            [("expect_table_columns_to_match_set", None), ("expect_column_values_to_be_unique", "session_id")],
        ),
        (
            "schema.marts.fct_sessions.changed_rows",
            "_processed_at > timestamp '2026-11-26 10:00:00'",
            [
                ("expect_column_values_to_not_be_null", "session_id"),
                ("expect_column_values_to_be_between", "event_count"),
            ],
        ),
        # no column says when its rows were built: all of it, as before
        ("schema.marts.dim_users", None, kinds(unversioned)),
    ]


def test_validated_through_is_the_last_validated_run_with_this_code_and_vars(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema staging")
        con.execute("create table staging.stg_segment__events as select timestamp '2026-11-26 10:00:00' as _loaded_at")
    assert validated_through(warehouse, {}) is None  # no run yet
    record_success(warehouse, {}, validated=True)
    assert validated_through(warehouse, {}) == "2026-11-26 10:00:00"
    assert validated_through(warehouse, {"session_timeout_minutes": 45}) is None  # other vars
    record_success(warehouse, {}, validated=False)  # run --skip-validation
    assert validated_through(warehouse, {}) is None
