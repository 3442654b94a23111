"""Helpers for tests that run the real pipeline on hand-made landing files and a real DuckDB file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import duckdb
import pytest

from event_analytics.pipeline import RunResult, run_dbt
from event_analytics.plan import compile_plan, read_plan
from event_analytics.secrets import PII_KEY_VARIABLE

PLANNED_EVENTS = compile_plan(read_plan())["events"]

# Every test's pipeline hashes with this key; tests of a missing key remove it themselves.
TEST_PII_KEY = "test-pii-key"
os.environ.setdefault(PII_KEY_VARIABLE, TEST_PII_KEY)

# Columns that record when a run happened, not what it computed.
RUN_TIME_COLUMNS = {"rejected_at", "_processed_at"}
COMPARED_RELATIONS = (
    "marts.fct_events",
    "marts.fct_sessions",
    "marts.dim_users",
    "marts.dim_groups",
    "marts.group_memberships",
    "marts.funnel_conversions",
    "marts.funnel_steps",
    "marts.cohort_retention",
    "marts.experiment_assignments",
    "marts.experiment_results",
    "marts.active_users",
    "marts.user_lifecycle",
    "marts.orders",
    "marts.revenue_daily",
    "marts.cohort_revenue",
    "marts.attribution",
    "marts.user_paths",
    "quarantine.rejected_events",
    "quarantine.duplicate_events",
)


def write_lines(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def build(
    landing: Path, warehouse: Path, *, full_refresh: bool = False, select: str | None = None, **dbt_vars: Any
) -> RunResult:
    result = run_dbt(
        "run",
        landing=landing,
        warehouse=warehouse,
        full_refresh=full_refresh,
        select=select,
        dbt_vars=dbt_vars,
    )
    assert result.ok, result.failure_reason() + "\n" + result.output[-3000:]
    return result


def query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def snapshot(warehouse: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the contract relations, sorted, run-time columns left out."""
    tables = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for relation in COMPARED_RELATIONS:
            columns = [
                row[0] for row in con.execute(f"describe {relation}").fetchall() if row[0] not in RUN_TIME_COLUMNS
            ]
            column_list = ", ".join(f'cast("{c}" as varchar)' for c in columns)
            tables[relation] = sorted(
                con.execute(f"select {column_list} from {relation}").fetchall(),
                key=lambda row: tuple("" if v is None else v for v in row),
            )
    return tables


def message(
    message_id: str | None,
    timestamp: str,
    *,
    received_at: str | None = None,
    type: str = "track",
    event: str | None = "product_viewed",
    anonymous_id: str | None = None,
    user_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A Segment message; receivedAt defaults to the timestamp."""
    body: dict[str, Any] = {"type": type, "timestamp": timestamp, "receivedAt": received_at or timestamp}
    if message_id is not None:
        body["messageId"] = message_id
    if type == "track" and event is not None:
        body["event"] = event
    if anonymous_id is not None:
        body["anonymousId"] = anonymous_id
    if user_id is not None:
        body["userId"] = user_id
    body.update(extra)
    if type == "track" and event in PLANNED_EVENTS:
        # Valid against the tracking plan unless a test says otherwise: required properties filled.
        required = {
            name: placeholder(spec)
            for name, spec in PLANNED_EVENTS[event]["properties"].items()
            if spec["required"] and name not in (body.get("properties") or {})
        }
        if required:
            body["properties"] = {**required, **(body.get("properties") or {})}
    return body


def placeholder(spec: dict[str, Any]) -> Any:
    if spec["enum"]:
        value = spec["enum"][0]
        return int(value) if spec["type"] == "integer" else value
    return {"string": "x", "integer": 1, "number": 1.5, "boolean": True}.get(spec["type"], "x")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
