"""Where the dbt project and its default folders are."""

from __future__ import annotations

import os
from pathlib import Path

EXIT_VALIDATION_FAILED = 1
EXIT_CONFIG_ERROR = 2
EXIT_PIPELINE_ERROR = 3


def project_dir() -> Path:
    """The dbt project folder: $EVENT_ANALYTICS_PROJECT_DIR, else the checkout this package lives in."""
    override = os.environ.get("EVENT_ANALYTICS_PROJECT_DIR")
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parents[2]


def default_landing() -> Path:
    return project_dir() / "data" / "landing"


def default_warehouse() -> Path:
    return project_dir() / "warehouse" / "events.duckdb"


class ConfigError(Exception):
    """Bad input from the user (paths, vars): exit code 2."""
