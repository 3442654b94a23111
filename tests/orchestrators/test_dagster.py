"""The Dagster example (examples/dagster/definitions.py): the definitions load, their jobs, schedule and assets,
how exit codes map, and real materializations in-process: the serving copy through `event-analytics run` on a
tiny landing folder, then one dbt model through dagster-dbt on the warehouse that run built. Runs in
.venv-dagster (make test-orchestrators), which holds Dagster but not the project."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from conftest import EXAMPLES, TEST_PII_KEY, holding_warehouse_lock, require

dg = require("dagster")
require("dagster_dbt")

DEFINITIONS = EXAMPLES / "dagster" / "definitions.py"
LOG = logging.getLogger("test_dagster")
MARTS = ("fct_events", "fct_sessions", "dim_users", "funnel_steps", "cohort_retention", "experiment_results")


@pytest.fixture(scope="module")
def definitions(cli: Path, tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The definitions module, its dbt manifest parsed into a temporary folder on load."""
    os.environ["EVENT_ANALYTICS_CLI"] = str(cli)
    os.environ["EVENT_ANALYTICS_DBT_TARGET_PATH"] = str(tmp_path_factory.mktemp("dbt-target"))
    spec = importlib.util.spec_from_file_location("event_analytics_dagster_definitions", DEFINITIONS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # Dagster resolves the config classes' annotations through it
    spec.loader.exec_module(module)
    return module


def test_jobs_schedule_and_assets(definitions: ModuleType):
    repository = definitions.defs.get_repository_def()
    assert {"event_analytics_run", "event_analytics_dbt_rebuild"} <= {job.name for job in repository.get_all_jobs()}
    [schedule] = repository.schedule_defs
    assert (schedule.name, schedule.cron_schedule, schedule.execution_timezone, schedule.job_name) == (
        "event_analytics_hourly",
        "10 * * * *",
        "UTC",
        "event_analytics_run",
    )
    serving = dg.AssetKey(["event_analytics", "serving_copy"])
    models = {dg.AssetKey(["marts", mart]) for mart in MARTS} | {dg.AssetKey(["staging", "stg_segment__events"])}
    assert {serving, *models} <= repository.asset_graph.get_all_asset_keys()
    # the scheduled job is the CLI's run alone; the dbt models are in the manual rebuild job
    run_job = repository.get_job("event_analytics_run")
    assert run_job.asset_layer.executable_asset_keys == {serving}
    rebuild = repository.get_job("event_analytics_dbt_rebuild").asset_layer.executable_asset_keys
    assert models <= rebuild and serving not in rebuild
    # the dbt data tests come along as asset checks
    assert any(
        check.asset_key == dg.AssetKey(["marts", "fct_events"]) for check in repository.asset_graph.asset_check_keys
    )
    policy = definitions.serving_copy.op.retry_policy
    assert (policy.max_retries, policy.delay, policy.backoff) == (2, 600, dg.Backoff.EXPONENTIAL)
    assert definitions.serving_copy.op.pool == definitions.event_analytics_dbt_models.op.pool


@pytest.mark.parametrize(
    ("code", "raised", "allow_retries"),
    [
        (1, "Failure", False),
        (2, "Failure", False),
        (3, "Failure", True),
        (-9, "Failure", True),
        (4, "RetryRequested", None),
    ],
)
def test_exit_codes_map_to_failure_or_retry(definitions: ModuleType, code: int, raised: str, allow_retries):
    assert definitions.raise_for_exit_code(0, "fine") is None
    with pytest.raises(getattr(dg, raised)) as caught:
        definitions.raise_for_exit_code(code, "the reason")
    if raised == "Failure":
        assert caught.value.allow_retries is allow_retries
        assert "the reason" in caught.value.description
    else:
        assert caught.value.max_retries == definitions.BUSY_RETRIES
        assert caught.value.seconds_to_wait == definitions.BUSY_RETRY_SECONDS


def cli_resource(definitions: ModuleType, landing: Path, warehouse: Path, pii_key: str = TEST_PII_KEY):
    return definitions.EventAnalytics(pii_key=pii_key, landing=str(landing), warehouse=str(warehouse), wait_seconds=0)


def test_a_busy_warehouse_requests_a_retry(definitions: ModuleType, landing: Path, tmp_path: Path):
    warehouse = tmp_path / "warehouse" / "events.duckdb"
    with holding_warehouse_lock(warehouse):
        with pytest.raises(dg.RetryRequested):
            cli_resource(definitions, landing, warehouse).run(LOG)
        # the dbt assets take the same lock, so they wait for a run, and a run for them
        with pytest.raises(dg.RetryRequested), definitions.warehouse_lock(warehouse, 0):
            pass


def test_no_pii_key_fails_without_retries(definitions: ModuleType, landing: Path, tmp_path: Path):
    with pytest.raises(dg.Failure) as caught:
        cli_resource(definitions, landing, tmp_path / "events.duckdb", pii_key="").run(LOG)
    assert caught.value.allow_retries is False
    assert "EVENT_ANALYTICS_PII_KEY" in caught.value.description


@pytest.fixture(scope="module")
def first_run(definitions: ModuleType, landing: Path, tmp_path_factory: pytest.TempPathFactory):
    warehouse = tmp_path_factory.mktemp("dagster-run") / "warehouse" / "events.duckdb"
    result = dg.materialize(
        [definitions.serving_copy],
        resources={"event_analytics": cli_resource(definitions, landing, warehouse)},
        raise_on_error=False,
    )
    return result, warehouse


def test_the_scheduled_asset_runs_the_pipeline_and_publishes(first_run):
    result, warehouse = first_run
    assert result.success, [event.message for event in result.all_events if event.is_failure]
    [materialization] = result.asset_materializations_for_node("event_analytics__serving_copy")
    manifest = json.loads((warehouse.parent / "serving" / "manifest.json").read_text())
    metadata = materialization.metadata
    assert metadata["publish_id"].value == manifest["publish_id"]
    assert metadata["mart_rows"].value["fct_events"] == 200
    assert metadata["landing_lines"].value == manifest["landing"]["lines"]
    assert TEST_PII_KEY not in str(result.all_events)


def test_dbt_assets_rebuild_a_model_with_the_projects_profiles(definitions: ModuleType, landing: Path, first_run):
    result, warehouse = first_run
    assert result.success
    environment = dict(os.environ)
    dim_dates = dg.AssetKey(["marts", "dim_dates"])
    rebuilt = dg.materialize(
        [definitions.event_analytics_dbt_models],
        selection=[dim_dates],
        resources={
            "dbt": definitions.defs.resources["dbt"],
            "event_analytics": cli_resource(definitions, landing, warehouse),
        },
        raise_on_error=False,
    )
    assert rebuilt.success, [event.message for event in rebuilt.all_events if event.is_failure]
    assert [m.asset_key for m in rebuilt.asset_materializations_for_node("event_analytics_dbt_models")] == [dim_dates]
    checks = rebuilt.get_asset_check_evaluations()
    assert checks and all(check.passed and check.asset_key == dim_dates for check in checks)
    assert TEST_PII_KEY not in str(rebuilt.all_events)
    # the key and the warehouse were dbt's for the invocation only
    assert dict(os.environ) == environment
