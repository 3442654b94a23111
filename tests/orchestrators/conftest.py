"""Shared by the orchestrator examples' tests (examples/): the project's CLI, a tiny landing folder, a lock.

These tests run in more than one virtualenv (`make test-orchestrators`): the cron and Airflow tests in the
project's .venv (extra `airflow`), the Dagster tests in .venv-dagster, which holds Dagster but not this
project. So this file uses the standard library and pytest only, and reaches the pipeline through its CLI
(.venv/bin/event-analytics, or $EVENT_ANALYTICS_CLI), as the examples do.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
EXAMPLES = PROJECT_DIR / "examples"
CLI = Path(os.environ.get("EVENT_ANALYTICS_CLI") or PROJECT_DIR / ".venv" / "bin" / "event-analytics")
# A key for the tests' warehouses only; the examples read the real one from the orchestrator's secrets.
TEST_PII_KEY = "orchestrator-tests-not-a-secret"
# make test-orchestrators sets it: there a missing orchestrator or tool is a failure, not a skip.
REQUIRED = os.environ.get("EVENT_ANALYTICS_ORCHESTRATOR_TESTS") == "required"


def require(module: str) -> ModuleType:
    """The module, or skip (fail under make test-orchestrators) when this venv lacks it."""
    if REQUIRED:
        return __import__(module)
    return pytest.importorskip(module)


def require_tool(name: str) -> None:
    if subprocess.run(["sh", "-c", f"command -v {name}"], capture_output=True).returncode != 0:
        message = f"{name} is not installed (make test-orchestrators installs it)"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def cli() -> Path:
    if not os.access(CLI, os.X_OK):
        pytest.fail(f"{CLI} is not executable: make install (or set EVENT_ANALYTICS_CLI)")
    return CLI


@pytest.fixture(scope="session")
def landing(cli: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 generated events: a real run on them takes about 25 s, most of it dbt and GX starting."""
    folder = tmp_path_factory.mktemp("landing")
    subprocess.run([str(cli), "generate", "--out", str(folder), "--events", "200"], check=True, capture_output=True)
    return folder


@contextlib.contextmanager
def holding_warehouse_lock(warehouse: Path) -> Iterator[None]:
    """Hold `<warehouse>.lock` as a running `event-analytics run` does (an OS lock: flock(2))."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    lock_path = warehouse.resolve().with_name(warehouse.name + ".lock")
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
