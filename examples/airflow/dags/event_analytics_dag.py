"""Airflow 3 DAG for event-analytics: `event-analytics run` every hour, then announce a new serving copy.

Copy this file into your DAGs folder. Airflow needs no part of the project: a task runs the project's CLI
in a subprocess, so Airflow can live in its own environment (or in the project's: `pip install -c
requirements.lock -e '.[airflow]'`). The run is the whole pipeline: ingest of new landing files, dbt build
with the project's profiles, the GX suites, and the publish to the serving copy BI tools read.

Tasks
- `run_pipeline`: `event-analytics run --wait SECONDS` (waits that long for another holder of the
  warehouse, such as a person's `event-analytics publish`). Its exit code decides what Airflow does:
  0 success; 1 validation failed (dbt tests or GX suites, or a landing file rejected: nothing was
  published and BI tools keep the last good copy) and 2 configuration error fail at once, without
  retries, since a rerun would fail alike until a person acts; 3 pipeline error and 4 busy (the
  warehouse is still held after --wait) are retried (3 retries, 5 minutes doubling up to 30), and a
  warehouse held through all of them fails the task, so a stuck holder is noticed.
- `announce_publish`: when the run published a new copy (the serving folder's manifest.json has a new
  publish_id), emits an event on the Airflow asset `event_analytics_serving_copy` with the publish id,
  time and mart row counts, so downstream DAGs (a BI extract refresh) can be scheduled on it; skipped
  when the run had nothing new to publish.

Configuration (environment of the scheduler and workers, read when the DAG file is parsed):
- EVENT_ANALYTICS_PROJECT_DIR: the project's checkout (default /opt/event-analytics); also tells the CLI
  where the dbt project is.
- EVENT_ANALYTICS_CLI: the CLI (default $EVENT_ANALYTICS_PROJECT_DIR/.venv/bin/event-analytics).
DAG params (defaults below; change them per run with "Trigger DAG w/ config"): landing, warehouse,
serving, wait_seconds, full_refresh. Empty paths mean the CLI's defaults (data/landing/ through var
landing_path, warehouse/events.duckdb, serving/ beside the warehouse); relative paths are taken from the
project folder.

The PII key is a secret: it comes from the worker's environment (EVENT_ANALYTICS_PII_KEY, e.g. from a
Kubernetes secret) or else from the Airflow Variable `event_analytics_pii_secret`, which any configured
secrets backend (Vault, AWS Secrets Manager, GCP Secret Manager, ...) can serve; its name holds
"secret", so Airflow masks it in the UI, and the task masks the value in its logs. It is read when the
task runs (never at parse time) and handed to the CLI in its environment, never on its command line.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import deque
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, Param, Variable, task
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

PROJECT_DIR = Path(os.environ.get("EVENT_ANALYTICS_PROJECT_DIR", "/opt/event-analytics"))
CLI = os.environ.get("EVENT_ANALYTICS_CLI", str(PROJECT_DIR / ".venv" / "bin" / "event-analytics"))
PII_KEY_VARIABLE = "EVENT_ANALYTICS_PII_KEY"
PII_KEY_AIRFLOW_VARIABLE = "event_analytics_pii_secret"
SERVING_COPY = Asset(name="event_analytics_serving_copy")

# The CLI's exit codes (README, "Command line").
EXIT_OK = 0
EXIT_VALIDATION_FAILED = 1
EXIT_CONFIG_ERROR = 2
EXIT_PIPELINE_ERROR = 3
EXIT_BUSY = 4
OUTPUT_KEPT = 40  # last lines of the CLI's output quoted in a failure


class PipelineError(AirflowException):
    """Exit 3: the run failed part way (a dbt error, a publish that could not be written); retried."""


class WarehouseBusy(AirflowException):
    """Exit 4: another process still held the warehouse after --wait; retried later."""


def raise_for_exit_code(code: int, reason: str) -> None:
    """Map the CLI's exit code to Airflow: AirflowFailException never retries, the others do."""
    if code == EXIT_OK:
        return
    if code == EXIT_VALIDATION_FAILED:
        raise AirflowFailException(f"validation failed, nothing published (BI tools keep the last good copy): {reason}")
    if code == EXIT_CONFIG_ERROR:
        raise AirflowFailException(f"configuration error: {reason}")
    if code == EXIT_PIPELINE_ERROR:
        raise PipelineError(f"pipeline error: {reason}")
    if code == EXIT_BUSY:
        raise WarehouseBusy(f"warehouse busy: {reason}")
    # killed by a signal (negative), or an exit code the CLI does not document: retry
    raise AirflowException(f"event-analytics exited with {code}: {reason}")


def pii_key() -> str:
    """The worker's EVENT_ANALYTICS_PII_KEY, else the Airflow Variable (or secrets backend) entry."""
    key = os.environ.get(PII_KEY_VARIABLE) or Variable.get(PII_KEY_AIRFLOW_VARIABLE, default=None)
    if not key:
        raise AirflowFailException(
            f"no PII key: set {PII_KEY_VARIABLE} on the workers or the Airflow Variable {PII_KEY_AIRFLOW_VARIABLE}"
        )
    return key


def project_path(value: str | None) -> Path | None:
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else PROJECT_DIR / path


def serving_dir(params: dict[str, Any]) -> Path:
    """Where the run publishes: --serving, else $EVENT_ANALYTICS_SERVING_DIR, else serving/ beside the warehouse."""
    explicit = project_path(params.get("serving")) or project_path(os.environ.get("EVENT_ANALYTICS_SERVING_DIR"))
    if explicit:
        return explicit
    warehouse = project_path(params.get("warehouse")) or PROJECT_DIR / "warehouse" / "events.duckdb"
    return warehouse.parent / "serving"


def published(serving: Path) -> dict[str, Any] | None:
    """The serving copy's manifest.json (publish_id, published_at, landing, marts), if there is one."""
    try:
        return json.loads((serving / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def run_command(params: dict[str, Any]) -> list[str]:
    command = [CLI, "run", "--wait", str(int(params.get("wait_seconds") or 0))]
    for option in ("landing", "warehouse", "serving"):
        if params.get(option):
            command += [f"--{option}", str(params[option])]
    if params.get("full_refresh"):
        command.append("--full-refresh")
    return command


def run_event_analytics(params: dict[str, Any], key: str) -> dict[str, Any]:
    """Run the CLI, its output into the task log; what it published, or the exception for its exit code."""
    serving = serving_dir(params)
    before = (published(serving) or {}).get("publish_id")
    command = run_command(params)
    print("running:", " ".join(command), flush=True)
    tail: deque[str] = deque(maxlen=OUTPUT_KEPT)
    with subprocess.Popen(
        command,
        cwd=PROJECT_DIR if PROJECT_DIR.is_dir() else None,
        env={**os.environ, PII_KEY_VARIABLE: key},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            tail.append(line.rstrip("\n"))
    # The CLI says why it failed in its last line on stderr.
    raise_for_exit_code(process.returncode, tail[-1] if tail else "(no output)")
    manifest = published(serving) or {}
    return {
        "published": bool(manifest.get("publish_id")) and manifest.get("publish_id") != before,
        "publish_id": manifest.get("publish_id"),
        "published_at": manifest.get("published_at"),
        "serving": str(serving),
        "landing": manifest.get("landing"),
        "mart_rows": {name: mart.get("rows") for name, mart in (manifest.get("marts") or {}).items()},
    }


with DAG(
    dag_id="event_analytics",
    description="event-analytics run (ingest, dbt build, GX suites, publish) every hour",
    schedule="10 * * * *",  # minute 10 of every hour, UTC: after the storage destinations' hourly files
    start_date=datetime(2026, 1, 1),
    catchup=False,  # a run reads every landing file not loaded before: missed hours need no backfill
    max_active_runs=1,
    default_args={"owner": "data-platform", "retries": 0},
    params={
        "landing": Param("", type="string", description="Landing folder or s3://, gs://, az:// URL; empty: default"),
        "warehouse": Param("", type="string", description="DuckDB file; empty: warehouse/events.duckdb"),
        "serving": Param("", type="string", description="Serving folder; empty: serving/ beside the warehouse"),
        "wait_seconds": Param(600, type="integer", minimum=0, description="--wait: seconds to wait for the warehouse"),
        "full_refresh": Param(False, type="boolean", description="--full-refresh: rebuild everything"),
    },
    tags=["event-analytics"],
    doc_md=__doc__,
) as dag:

    @task(
        retries=3,
        retry_delay=timedelta(minutes=5),
        retry_exponential_backoff=2.0,  # 5, 10, 20 minutes
        max_retry_delay=timedelta(minutes=30),
        execution_timeout=timedelta(hours=3),
    )
    def run_pipeline(**context: Any) -> dict[str, Any]:
        from airflow.sdk.log import mask_secret

        key = pii_key()
        mask_secret(key)
        return run_event_analytics(dict(context["params"]), key)

    @task(outlets=[SERVING_COPY])
    def announce_publish(run: dict[str, Any], **context: Any) -> str:
        if not run["published"]:
            raise AirflowSkipException("nothing new was published: the serving copy is unchanged")
        context["outlet_events"][SERVING_COPY].extra = {
            "publish_id": run["publish_id"],
            "published_at": run["published_at"],
            "serving": run["serving"],
            "mart_rows": run["mart_rows"],
        }
        print(f"published {run['publish_id']} at {run['published_at']} to {run['serving']}: {run['mart_rows']}")
        return run["publish_id"]

    announce_publish(run_pipeline())
