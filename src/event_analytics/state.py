"""Whether a run has anything to do: landing files to load or reject, new code or vars, or an
unfinished run.

A scheduled job mostly finds nothing new; answering that from the warehouse takes well under a
second, where a `dbt build` over an unchanged warehouse still rebuilds its table marts and reruns
every test. The state of the last successful run is kept in `meta.pipeline_runs`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from event_analytics.ingest import LoadPlan
from event_analytics.project import project_dir, project_vars

PROJECT_INPUTS = ("dbt_project.yml", "profiles", "models", "macros", "tests", "seeds", "expectations")
LOADED_THROUGH = "select cast(max(_loaded_at) as varchar) from staging.stg_segment__events"


def fingerprint(dbt_vars: dict[str, Any]) -> str:
    """Hash of everything that decides what dbt builds: project files and vars."""
    digest = hashlib.sha256(json.dumps(dbt_vars, sort_keys=True, default=str).encode())
    root = project_dir()
    for name in PROJECT_INPUTS:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.exists() and "tests/python" not in file.as_posix():
                digest.update(file.relative_to(root).as_posix().encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class LoadedState:
    loaded_through: str | None
    last_success_fingerprint: str
    last_success_loaded_through: str | None


def loaded_state(warehouse: Path) -> LoadedState | None:
    """What staging holds and what the last successful run saw; None before any successful run."""
    if not warehouse.exists():
        return None
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            loaded_through = con.execute(LOADED_THROUGH).fetchone()[0]
            last = con.execute(
                "select fingerprint, loaded_through from meta.pipeline_runs order by finished_at desc limit 1"
            ).fetchone()
    except duckdb.Error:
        return None
    if last is None:
        return None
    return LoadedState(loaded_through, last[0], last[1])


def nothing_to_do(plan: LoadPlan, warehouse: Path, dbt_vars: dict[str, Any]) -> bool:
    """True when the last run succeeded with this code and vars, no run has loaded data since
    (a killed run has), and the load plan has no file to load or reject (a rejected file is
    tried, and reported, every run)."""
    if plan.files or plan.rejected:
        return False
    state = loaded_state(warehouse)
    return (
        state is not None
        and state.last_success_fingerprint == fingerprint(dbt_vars)
        and state.loaded_through == state.last_success_loaded_through
        and not quarantine_text_to_expire(warehouse, project_vars(dbt_vars)["quarantine_retention_days"])
    )


def quarantine_text_to_expire(warehouse: Path, retention_days: Any) -> bool:
    """Whether quarantined text is past its retention (the models' post-hooks clear it, so such a
    warehouse needs a run even when nothing new arrived: personal data must not outstay it)."""
    if not isinstance(retention_days, int):
        return True  # let the run report the bad var
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            row = con.execute(
                "select exists (select 1 from quarantine.rejected_events "
                "where raw_line is not null and rejected_at < now()::timestamp - to_days(?))",
                [retention_days],
            ).fetchone()
    except duckdb.Error:
        return False
    return bool(row and row[0])


def record_success(warehouse: Path, dbt_vars: dict[str, Any], *, validated: bool) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists meta")
        con.execute(
            "create table if not exists meta.pipeline_runs "
            "(finished_at timestamp, fingerprint varchar, loaded_through varchar)"
        )
        con.execute("alter table meta.pipeline_runs add column if not exists validated boolean")
        con.execute(
            "insert into meta.pipeline_runs (finished_at, fingerprint, loaded_through, validated) "
            "values (current_timestamp::timestamp, ?, (" + LOADED_THROUGH + "), ?)",
            [fingerprint(dbt_vars), validated],
        )


def validated_through(warehouse: Path, dbt_vars: dict[str, Any]) -> str | None:
    """The run time up to which every row has passed the suites: that of the last successful run,
    when it was validated with this code and vars. None (validate everything) otherwise, e.g.
    after a run with --skip-validation or once a suite, model or var has changed.

    Every row an incremental model (re)builds carries its run's time (_loaded_at, _processed_at),
    and a run happens after a validated one only when it loads data, so rows newer than this are
    exactly the ones no suite has seen.
    """
    if not warehouse.exists():
        return None
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            last = con.execute(
                "select fingerprint, loaded_through, validated from meta.pipeline_runs "
                "order by finished_at desc limit 1"
            ).fetchone()
    except duckdb.Error:
        return None
    if last is None or not last[2] or last[0] != fingerprint(dbt_vars):
        return None
    return last[1]
