"""Dagster definitions for event-analytics (examples/dagster).

    python3.11 -m venv .venv-dagster && .venv-dagster/bin/pip install -r examples/dagster/requirements.txt
    EVENT_ANALYTICS_PII_KEY=... .venv-dagster/bin/dagster dev -f examples/dagster/definitions.py

Dagster runs in its own virtualenv: dagster-dbt needs `sqlglot[rs]`, which the project's pinned sqlglot
(from the `semantic` extra) cannot give. It needs no part of the project either: the pipeline runs through
the project's own CLI and dbt (.venv/bin/event-analytics, .venv/bin/dbt), in subprocesses.

What is defined
- Asset `event_analytics/serving_copy` (job `event_analytics_run`, schedule `event_analytics_hourly`
  at minute 10 of every hour, UTC; schedules start stopped: turn it on in the UI): `event-analytics run
  --wait SECONDS`, the whole pipeline, as cron and Airflow run it: ingest of the new landing files, dbt
  build, the GX suites, and the publish of the marts to the serving copy BI tools read. Its exit code:
    0  materialized, with the serving copy's manifest (publish id and time, landing files and lines,
       each mart's rows) as metadata;
    1  validation failed (dbt tests, GX suites, or a rejected landing file): nothing was published, BI
       tools keep the last good copy. Failure without retries: a rerun fails alike until a person acts;
    2  configuration error (paths, vars, no PII key): Failure without retries;
    3  pipeline error: Failure, retried by the asset's RetryPolicy (2 retries, 10 minutes apart,
       doubling); the next run redoes the work anyway;
    4  busy: another process held the warehouse all through --wait: RetryRequested (up to 3 times, 5
       minutes apart).
  Launch it with config `full_refresh: true` for `--full-refresh`.
- `@dbt_assets` `event_analytics_dbt_models` (job `event_analytics_dbt_rebuild`, manual, no schedule):
  each dbt model of the project as an asset, read from the project's manifest (made with `dbt parse`
  when missing, or on every load under `dagster dev`), with its lineage. Materializing them runs `dbt
  build` (unit tests excluded, as the CLI does) with the project's profiles/, its dbt-duckdb plugin and
  the PII key, on the working warehouse, under the warehouse's lock (the one `event-analytics run`
  holds, so the two never write at once). Use it to see the models' lineage and to rebuild chosen
  models and their tests over what is already loaded (after a model's SQL changed, say). It does not
  ingest new landing files (only the CLI plans and reads them), run the GX suites, or publish: after a
  rebuild, `event-analytics validate` then `event-analytics publish` bring it to BI tools (a scheduled
  run publishes only when it finds something new: landing files, project files or vars). A later run
  goes on incrementally from what the rebuild left. The scheduled path is the asset above.

Configuration (environment of the code location)
- EVENT_ANALYTICS_PII_KEY: the secret key (required when a run starts). Dagster reads it through
  `dg.EnvVar`, so it never enters run config, the UI or the event log; set it from your secret store
  (Dagster+ environment variables, a Kubernetes secret, ...). It reaches the CLI and dbt in their
  environment, never on a command line.
- EVENT_ANALYTICS_PROJECT_DIR: the project's checkout (default: two folders up from this file).
- EVENT_ANALYTICS_CLI, EVENT_ANALYTICS_DBT: the project's CLI and dbt (default: its .venv/bin/).
- EVENT_ANALYTICS_LANDING, EVENT_ANALYTICS_WAREHOUSE, EVENT_ANALYTICS_SERVING_DIR: where the run reads
  and writes (default: the CLI's defaults); EVENT_ANALYTICS_WAIT_SECONDS: --wait (default 600).
- EVENT_ANALYTICS_DBT_TARGET_PATH: where the manifest and dbt's artifacts go (default target/dagster/).
"""

# No `from __future__ import annotations`: Dagster reads the config and resource annotations at run time.
import contextlib
import fcntl
import json
import os
import subprocess
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

PROJECT_DIR = Path(os.environ.get("EVENT_ANALYTICS_PROJECT_DIR") or Path(__file__).resolve().parents[2])
CLI = os.environ.get("EVENT_ANALYTICS_CLI") or str(PROJECT_DIR / ".venv" / "bin" / "event-analytics")
DBT = os.environ.get("EVENT_ANALYTICS_DBT") or str(PROJECT_DIR / ".venv" / "bin" / "dbt")
DBT_TARGET = Path(os.environ.get("EVENT_ANALYTICS_DBT_TARGET_PATH") or PROJECT_DIR / "target" / "dagster")
PII_KEY_VARIABLE = "EVENT_ANALYTICS_PII_KEY"
POOL = "event_analytics_warehouse"  # one writer: `dagster instance concurrency set event_analytics_warehouse 1`

# The CLI's exit codes (README, "Command line").
EXIT_OK = 0
EXIT_VALIDATION_FAILED = 1
EXIT_CONFIG_ERROR = 2
EXIT_PIPELINE_ERROR = 3
EXIT_BUSY = 4
BUSY_RETRIES = 3
BUSY_RETRY_SECONDS = 300
OUTPUT_KEPT = 40


def raise_for_exit_code(code: int, reason: str) -> None:
    """Map the CLI's exit code to Dagster: Failure(allow_retries=False) is final, the others are retried."""
    if code == EXIT_OK:
        return
    if code == EXIT_VALIDATION_FAILED:
        raise dg.Failure(
            description=f"validation failed, nothing published (BI tools keep the last good copy): {reason}",
            allow_retries=False,
        )
    if code == EXIT_CONFIG_ERROR:
        raise dg.Failure(description=f"configuration error: {reason}", allow_retries=False)
    if code == EXIT_BUSY:
        raise dg.RetryRequested(max_retries=BUSY_RETRIES, seconds_to_wait=BUSY_RETRY_SECONDS)
    if code == EXIT_PIPELINE_ERROR:
        raise dg.Failure(description=f"pipeline error: {reason}", allow_retries=True)
    # killed by a signal (negative), or an exit code the CLI does not document
    raise dg.Failure(description=f"event-analytics exited with {code}: {reason}", allow_retries=True)


def project_path(value: str | None) -> Path | None:
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else PROJECT_DIR / path


class EventAnalytics(dg.ConfigurableResource):
    """The project's CLI and where it works; `pii_key` comes from dg.EnvVar, never from run config."""

    pii_key: str
    executable: str = CLI
    landing: str | None = None
    warehouse: str | None = None
    serving: str | None = None
    wait_seconds: float = 600

    def warehouse_path(self) -> Path:
        return project_path(self.warehouse) or PROJECT_DIR / "warehouse" / "events.duckdb"

    def serving_dir(self) -> Path:
        return project_path(self.serving) or self.warehouse_path().parent / "serving"

    def command(self, full_refresh: bool = False) -> list[str]:
        command = [self.executable, "run", "--wait", f"{self.wait_seconds:g}"]
        for option in ("landing", "warehouse", "serving"):
            if getattr(self, option):
                command += [f"--{option}", str(getattr(self, option))]
        return command + (["--full-refresh"] if full_refresh else [])

    def environment(self) -> dict[str, str]:
        return {**os.environ, PII_KEY_VARIABLE: self.pii_key}

    def run(self, log: Any, full_refresh: bool = False) -> dict[str, Any] | None:
        """`event-analytics run`, its output into the Dagster log; the serving manifest, or the exception for
        its exit code."""
        command = self.command(full_refresh)
        log.info("running: " + " ".join(command))
        tail: deque[str] = deque(maxlen=OUTPUT_KEPT)
        with subprocess.Popen(
            command,
            cwd=PROJECT_DIR if PROJECT_DIR.is_dir() else None,
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                tail.append(line.rstrip("\n"))
                log.info(tail[-1])
        # The CLI says why it failed in its last line on stderr.
        raise_for_exit_code(process.returncode, tail[-1] if tail else "(no output)")
        try:
            return json.loads((self.serving_dir() / "manifest.json").read_text())
        except (OSError, ValueError):
            return None


class RunConfig(dg.Config):
    full_refresh: bool = False


@dg.asset(
    key=["event_analytics", "serving_copy"],
    group_name="event_analytics",
    kinds={"duckdb", "parquet"},
    description="The marts as BI tools read them: `event-analytics run` (ingest, dbt build, GX suites, publish).",
    retry_policy=dg.RetryPolicy(max_retries=2, delay=600, backoff=dg.Backoff.EXPONENTIAL),
    pool=POOL,
)
def serving_copy(
    context: dg.AssetExecutionContext, config: RunConfig, event_analytics: EventAnalytics
) -> dg.MaterializeResult:
    manifest = event_analytics.run(context.log, full_refresh=config.full_refresh) or {}
    landing = manifest.get("landing") or {}
    marts = manifest.get("marts") or {}
    return dg.MaterializeResult(
        metadata={
            "publish_id": manifest.get("publish_id"),
            "published_at": manifest.get("published_at"),
            "serving": dg.MetadataValue.path(str(event_analytics.serving_dir())),
            "landing_files": landing.get("files"),
            "landing_lines": landing.get("lines"),
            "mart_rows": dg.MetadataValue.json({name: mart.get("rows") for name, mart in marts.items()}),
        }
    )


@contextlib.contextmanager
def warehouse_lock(warehouse: Path, wait_seconds: float) -> Iterator[None]:
    """Hold `<warehouse>.lock` as `event-analytics run` does (flock(2)), or ask Dagster to retry later."""
    real = warehouse.resolve()
    real.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    with open(real.with_name(real.name + ".lock"), "a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise dg.RetryRequested(max_retries=BUSY_RETRIES, seconds_to_wait=BUSY_RETRY_SECONDS) from None
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def environment(**variables: str) -> Iterator[None]:
    """Variables for the dbt process (dagster-dbt hands dbt this process's environment), then restored."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


DBT_PROJECT = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR / "profiles", target_path=DBT_TARGET)


def prepare_manifest() -> Path:
    """The project's manifest.json: `dbt parse` with the project's dbt when missing (and under `dagster dev`,
    every load, so model changes show); a deployment makes it when its image is built."""
    manifest = DBT_PROJECT.manifest_path
    if manifest.exists() and not os.environ.get("DAGSTER_IS_DEV_CLI"):
        return manifest
    subprocess.run(
        [DBT, "parse", "--quiet", "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR / "profiles")]
        + ["--target-path", str(DBT_TARGET), "--log-path", str(DBT_TARGET / "logs")],
        cwd=PROJECT_DIR,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        check=True,
    )
    return manifest


@dbt_assets(
    manifest=prepare_manifest(),
    project=DBT_PROJECT,
    name="event_analytics_dbt_models",
    pool=POOL,
)
def event_analytics_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, event_analytics: EventAnalytics
) -> Iterator[Any]:
    warehouse = event_analytics.warehouse_path().resolve()
    with (
        warehouse_lock(warehouse, event_analytics.wait_seconds),
        environment(
            **{
                PII_KEY_VARIABLE: event_analytics.pii_key,
                "EVENT_ANALYTICS_WAREHOUSE": str(warehouse),
                "EVENT_ANALYTICS_SPILL_DIR": str(warehouse.parent / ".spill"),
            }
        ),
    ):
        invocation = dbt.cli(
            ["build", "--exclude-resource-type", "unit_test"],
            context=context,
            target_path=DBT_TARGET / f"run-{context.run.run_id[:8]}",
        )
        yield from invocation.stream()


def event_analytics_resource() -> EventAnalytics:
    return EventAnalytics(
        pii_key=dg.EnvVar(PII_KEY_VARIABLE),
        landing=os.environ.get("EVENT_ANALYTICS_LANDING"),
        warehouse=os.environ.get("EVENT_ANALYTICS_WAREHOUSE"),
        serving=os.environ.get("EVENT_ANALYTICS_SERVING_DIR"),
        wait_seconds=float(os.environ.get("EVENT_ANALYTICS_WAIT_SECONDS", "600")),
    )


run_job = dg.define_asset_job("event_analytics_run", selection=[serving_copy])
dbt_rebuild_job = dg.define_asset_job("event_analytics_dbt_rebuild", selection=[event_analytics_dbt_models])

defs = dg.Definitions(
    assets=[serving_copy, event_analytics_dbt_models],
    jobs=[run_job, dbt_rebuild_job],
    schedules=[
        dg.ScheduleDefinition(
            name="event_analytics_hourly",
            job=run_job,
            cron_schedule="10 * * * *",  # after the storage destinations' hourly files
            execution_timezone="UTC",
        )
    ],
    resources={
        "event_analytics": event_analytics_resource(),
        "dbt": DbtCliResource(project_dir=DBT_PROJECT, profiles_dir=PROJECT_DIR / "profiles", dbt_executable=DBT),
    },
)
