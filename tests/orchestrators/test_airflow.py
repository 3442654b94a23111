"""The Airflow example (examples/airflow/dags): the DAG loads, its tasks and retries, how exit codes map, and a
real run under `airflow dags test` against a tiny landing folder (sqlite metadata database in a temporary
AIRFLOW_HOME). Runs in the project's venv with the `airflow` extra (make test-orchestrators)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import pytest

from conftest import EXAMPLES, TEST_PII_KEY, holding_warehouse_lock, require

# Before Airflow is imported: its configuration, logs and database go to a folder of this test module.
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
require("airflow")

from airflow.dag_processing.dagbag import DagBag  # noqa: E402
from airflow.sdk.exceptions import AirflowException, AirflowFailException  # noqa: E402

DAGS = EXAMPLES / "airflow" / "dags"
DAG_FILE = DAGS / "event_analytics_dag.py"


@pytest.fixture(scope="module", autouse=True)
def airflow_home():
    yield AIRFLOW_HOME
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="module")
def dag_module(cli: Path) -> ModuleType:
    """The DAG file as a module (its helper functions), with the CLI the tests use."""
    os.environ["EVENT_ANALYTICS_CLI"] = str(cli)
    spec = importlib.util.spec_from_file_location("event_analytics_dag", DAG_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_dag_loads_without_import_errors():
    bag = DagBag(dag_folder=DAGS)
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"event_analytics"}


def test_tasks_dependencies_retries_and_schedule():
    dag = DagBag(dag_folder=DAGS).dags["event_analytics"]
    assert {task.task_id for task in dag.tasks} == {"run_pipeline", "announce_publish"}
    run, announce = dag.get_task("run_pipeline"), dag.get_task("announce_publish")
    assert run.downstream_task_ids == {"announce_publish"}
    assert announce.upstream_task_ids == {"run_pipeline"}
    assert dag.timetable.expression == "10 * * * *"
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    # exit 3 and 4 are retried, 5, 10, 20 minutes apart; exit 1 and 2 raise AirflowFailException
    assert run.retries == 3
    assert run.retry_delay == timedelta(minutes=5)
    assert run.retry_exponential_backoff == 2.0
    assert run.max_retry_delay == timedelta(minutes=30)
    assert announce.retries == 0
    assert [asset.name for asset in announce.outlets] == ["event_analytics_serving_copy"]
    assert dict(dag.params) == {
        "landing": "",
        "warehouse": "",
        "serving": "",
        "wait_seconds": 600,
        "full_refresh": False,
    }


@pytest.mark.parametrize(
    ("code", "raised", "retried"),
    [
        (0, None, None),
        (1, AirflowFailException, False),
        (2, AirflowFailException, False),
        (3, "PipelineError", True),
        (4, "WarehouseBusy", True),
        (-9, AirflowException, True),
    ],
)
def test_exit_codes_map_to_fail_or_retry(dag_module: ModuleType, code: int, raised, retried):
    if raised is None:
        assert dag_module.raise_for_exit_code(code, "fine") is None
        return
    expected = getattr(dag_module, raised) if isinstance(raised, str) else raised
    with pytest.raises(expected) as caught:
        dag_module.raise_for_exit_code(code, "the reason")
    assert "the reason" in str(caught.value)
    # AirflowFailException is the one Airflow does not retry
    assert isinstance(caught.value, AirflowFailException) is (not retried)


def test_the_command_line(dag_module: ModuleType, cli: Path):
    params = {"landing": "s3://bucket/events", "warehouse": "", "serving": "/srv/serving", "wait_seconds": 600}
    assert dag_module.run_command({**params, "full_refresh": True}) == [
        str(cli),
        "run",
        "--wait",
        "600",
        "--landing",
        "s3://bucket/events",
        "--serving",
        "/srv/serving",
        "--full-refresh",
    ]


def test_a_busy_warehouse_is_retried_not_failed(dag_module: ModuleType, landing: Path, tmp_path: Path):
    warehouse = tmp_path / "warehouse" / "events.duckdb"
    params = {"landing": str(landing), "warehouse": str(warehouse), "wait_seconds": 0}
    with holding_warehouse_lock(warehouse), pytest.raises(dag_module.WarehouseBusy, match="holds"):
        dag_module.run_event_analytics(params, TEST_PII_KEY)


def test_no_pii_key_fails_without_retries(dag_module: ModuleType, landing: Path, tmp_path: Path):
    params = {"landing": str(landing), "warehouse": str(tmp_path / "events.duckdb"), "wait_seconds": 0}
    with pytest.raises(AirflowFailException, match="configuration error: .*EVENT_ANALYTICS_PII_KEY"):
        dag_module.run_event_analytics(params, "")


def airflow(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True, timeout=600
    )


def dags_test(conf: str, env: dict[str, str]) -> str:
    """`airflow dags test` of the DAG, its output; a task that fails and waits for a retry (5 minutes
    away) fails the test at once, with the output so far (the CLI's reason is in it)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow", "dags", "test", "event_analytics", "--conf", conf],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    timer = threading.Timer(600, process.kill)
    timer.start()
    output: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "up_for_retry" in line.lower():
                pytest.fail("a task failed and waits for a retry:\n" + "".join(output[-120:]))
        process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, "".join(output[-120:])
    return "".join(output)


def test_dags_test_runs_the_pipeline_and_announces_the_publish(cli: Path, landing: Path, tmp_path: Path):
    env = {
        **{name: value for name, value in os.environ.items() if name != "EVENT_ANALYTICS_PII_KEY"},
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "EVENT_ANALYTICS_CLI": str(cli),
    }
    migrated = airflow("db", "migrate", env=env)
    assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
    warehouse = tmp_path / "warehouse" / "events.duckdb"
    conf = json.dumps({"landing": str(landing), "warehouse": str(warehouse), "wait_seconds": 0})

    # the key from Airflow's secrets (a Variable here; a secrets backend serves it alike)
    stored = airflow("variables", "set", "event_analytics_pii_secret", TEST_PII_KEY, env=env)
    assert stored.returncode == 0, stored.stdout[-3000:] + stored.stderr[-3000:]
    first = dags_test(conf, env)
    manifest = json.loads((warehouse.parent / "serving" / "manifest.json").read_text())
    # the key from the workers' environment, which comes first; the second run finds nothing new: it
    # succeeds, publishes nothing, and announces nothing
    airflow("variables", "delete", "event_analytics_pii_secret", env=env)
    second = dags_test(conf, {**env, "EVENT_ANALYTICS_PII_KEY": TEST_PII_KEY})
    assert TEST_PII_KEY not in first + second

    with sqlite3.connect(tmp_path / "airflow" / "airflow.db") as db:
        states = db.execute(
            "select r.run_id, t.task_id, t.state from task_instance t join dag_run r using (dag_id, run_id) "
            "order by r.run_after, t.task_id"
        ).fetchall()
        events = db.execute(
            "select a.name, e.extra, e.source_task_id from asset_event e join asset a on a.id = e.asset_id"
        ).fetchall()
    runs: dict[str, dict[str, str]] = {}
    for run_id, task_id, state in states:
        runs.setdefault(run_id, {})[task_id] = state
    assert list(runs.values()) == [
        {"announce_publish": "success", "run_pipeline": "success"},
        {"announce_publish": "skipped", "run_pipeline": "success"},
    ]
    assert len(events) == 1
    name, extra, source = events[0]
    assert (name, source) == ("event_analytics_serving_copy", "announce_publish")
    assert json.loads(extra)["publish_id"] == manifest["publish_id"]
    assert json.loads(extra)["mart_rows"]["fct_events"] == 200
