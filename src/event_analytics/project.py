"""Where the dbt project and its default folders are."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

EXIT_VALIDATION_FAILED = 1
EXIT_CONFIG_ERROR = 2
EXIT_PIPELINE_ERROR = 3
EXIT_BUSY = 4


def project_dir() -> Path:
    """The dbt project folder: $EVENT_ANALYTICS_PROJECT_DIR, else the checkout this package lives in."""
    override = os.environ.get("EVENT_ANALYTICS_PROJECT_DIR")
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parents[2]


def resolve_landing(landing_path: str) -> str:
    """var landing_path as given: a URL, or a folder relative to the project."""
    if "://" in landing_path:
        return landing_path
    return str(project_dir() / landing_path)


def default_warehouse() -> Path:
    return project_dir() / "warehouse" / "events.duckdb"


class ConfigError(Exception):
    """Bad input from the user (paths, vars): exit code 2."""


class Terminated(Exception):  # noqa: N818 (what happened, as the scheduler sees it)
    """The process was told to stop (SIGTERM, as schedulers send on a timeout): exit code 3."""


def project_vars(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """dbt's vars as a run sees them: dbt_project.yml's, with the run's overrides on top (the one
    place their defaults live, for the Python steps around dbt too)."""
    defaults = yaml.safe_load((project_dir() / "dbt_project.yml").read_text()).get("vars") or {}
    return {**defaults, **(overrides or {})}
