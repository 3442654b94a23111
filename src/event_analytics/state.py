"""Whether a run has anything to do: landing files to load or reject, new code or vars, an
unfinished run, or an audit to redo; and whether the loaded rows follow this run's settings.

A scheduled job mostly finds nothing new; answering that from the warehouse takes well under a
second, where a `dbt build` over an unchanged warehouse still rebuilds its table marts and reruns
every test. `meta.pipeline_runs` records each build as it starts (`started`), fails (`failed`) or
ends (`built`), and each passed audit (`passed`): a run whose audit failed is, with no new input,
audited again without a build; one whose build died or failed is built again.
`meta.load_settings` records the settings each load followed (load_settings): rows already loaded
keep the tracking plan mode, plan and PII key they were loaded with.
"""

from __future__ import annotations

import hashlib
import hmac
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
    last_fingerprint: str
    last_loaded_through: str | None
    last_status: str


# Rows of meta.pipeline_runs from before the status column are passed audits.
STATUS = "coalesce(status, 'passed')"


def loaded_state(warehouse: Path) -> LoadedState | None:
    """What staging holds and what the last build saw; None before any build was recorded."""
    if not warehouse.exists():
        return None
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            loaded_through = con.execute(LOADED_THROUGH).fetchone()[0]
            last = con.execute(
                # a reviewed publish (accepted) changes what the rate audits, not what to do next
                f"select fingerprint, loaded_through, {STATUS} from meta.pipeline_runs "
                f"where {STATUS} != 'accepted' order by finished_at desc limit 1"
            ).fetchone()
    except duckdb.Error:
        return None
    if last is None:
        return None
    return LoadedState(loaded_through, last[0], last[1], last[2])


def next_step(plan: LoadPlan, warehouse: Path, dbt_vars: dict[str, Any]) -> str:
    """`nothing` when the last run passed its audit with this code and vars, no run has loaded
    data since (a killed run has), and the load plan has no file to load or reject (a rejected
    file is tried, and reported, every run); `audit` when the same holds of a build whose audit
    failed; else `build`."""
    if plan.files or plan.rejected:
        return "build"
    state = loaded_state(warehouse)
    if (
        state is None
        or state.last_status in {"started", "failed"}  # a build that died or failed part way
        or state.last_fingerprint != fingerprint(dbt_vars)
        or state.loaded_through != state.last_loaded_through
        or quarantine_text_to_expire(warehouse, project_vars(dbt_vars)["quarantine_retention_days"])
    ):
        return "build"
    return "nothing" if state.last_status == "passed" else "audit"


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


def record_build_started(warehouse: Path, dbt_vars: dict[str, Any]) -> None:
    """A build begins: until it is recorded as built, the marts may be half rewritten (the next
    run builds again, whatever its vars)."""
    _record(warehouse, dbt_vars, "started", validated=False)


def record_build_failed(warehouse: Path, dbt_vars: dict[str, Any]) -> None:
    _record(warehouse, dbt_vars, "failed", validated=False)


def record_build(warehouse: Path, dbt_vars: dict[str, Any]) -> None:
    """A build succeeded; its audit is still to pass."""
    _record(warehouse, dbt_vars, "built", validated=False)


def record_success(warehouse: Path, dbt_vars: dict[str, Any], *, validated: bool) -> None:
    """The run passed its audit (or skipped it: `validated` False)."""
    _record(warehouse, dbt_vars, "passed", validated=validated)


def record_accepted(warehouse: Path) -> None:
    """A person published the working warehouse by hand after reviewing its audit: the files loaded
    so far count as audited for the quarantine rate (audited_through), while the suites have still
    to pass (the next run audits again when nothing changed)."""
    with duckdb.connect(str(warehouse)) as con:
        try:
            con.execute(
                "insert into meta.pipeline_runs (finished_at, fingerprint, loaded_through, validated, status) "
                "select current_timestamp::timestamp, fingerprint, ?, false, 'accepted' from meta.pipeline_runs "
                "order by finished_at desc limit 1",
                [_loaded_through(con)],
            )
        except duckdb.CatalogException:
            return  # nothing built yet: nothing to accept


def _loaded_through(con: duckdb.DuckDBPyConnection) -> str | None:
    """What staging holds; None before the first build wrote it (one that failed early, say)."""
    try:
        return con.execute(LOADED_THROUGH).fetchone()[0]  # type: ignore[index]
    except duckdb.CatalogException:
        return None


def _record(warehouse: Path, dbt_vars: dict[str, Any], status: str, *, validated: bool) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists meta")
        con.execute(
            "create table if not exists meta.pipeline_runs "
            "(finished_at timestamp, fingerprint varchar, loaded_through varchar)"
        )
        con.execute("alter table meta.pipeline_runs add column if not exists validated boolean")
        con.execute("alter table meta.pipeline_runs add column if not exists status varchar")
        con.execute(
            "insert into meta.pipeline_runs (finished_at, fingerprint, loaded_through, validated, status) "
            "values (current_timestamp::timestamp, ?, ?, ?, ?)",
            [fingerprint(dbt_vars), _loaded_through(con), validated, status],
        )


def audited_through(warehouse: Path) -> str | None:
    """The load time (staging's _loaded_at, meta.landing_files.loaded_at) up to which the files
    loaded have passed an audit: that of the last passed run or reviewed publish; None when none
    has."""
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            row = con.execute(
                f"select loaded_through from meta.pipeline_runs where {STATUS} in ('passed', 'accepted') "
                "order by finished_at desc limit 1"
            ).fetchone()
    except duckdb.Error:
        return None
    return row[0] if row else None


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
                f"where {STATUS} = 'passed' order by finished_at desc limit 1"
            ).fetchone()
    except duckdb.Error:
        return None
    if last is None or not last[2] or last[0] != fingerprint(dbt_vars):
        return None
    return last[1]


# Settings a row follows from the run that loaded it: a later change reaches new rows only.
RECORDED_SETTINGS = ("tracking_plan_mode", "tracking_plan", "pii_key")


def load_settings(dbt_vars: dict[str, Any], plan: dict[str, Any], pii_key: str) -> dict[str, str]:
    """This run's settings as recorded: the mode, a hash of the compiled tracking plan, and a
    fingerprint of the PII key (an HMAC of a fixed text: it tells keys apart, never the key)."""
    return {
        "tracking_plan_mode": str(project_vars(dbt_vars)["tracking_plan_mode"]),
        "tracking_plan": hashlib.sha256(json.dumps(plan, sort_keys=True, default=str).encode()).hexdigest()[:16],
        "pii_key": hmac.new(pii_key.encode(), b"event-analytics key fingerprint", "sha256").hexdigest()[:16],
    }


def settings_drift(warehouse: Path, current: dict[str, str]) -> tuple[list[str], list[str]]:
    """How the loaded rows' recorded settings differ from `current`: (changes since the last load,
    which need --full-refresh or --accept-partial-settings; older differences already accepted),
    one line per setting."""
    if not warehouse.exists():
        return [], []
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            rows = con.execute(
                "select setting, value, min(loaded_at), max(loaded_at) from meta.load_settings group by 1, 2 order by 4"
            ).fetchall()
    except duckdb.Error:
        return [], []
    changed, accepted = [], []
    for setting in RECORDED_SETTINGS:
        history = [(value, first, last) for name, value, first, last in rows if name == setting]
        if not history:
            continue
        what = {"tracking_plan": "the tracking plan", "pii_key": "the PII key"}.get(setting, setting)
        differing = [(value, first) for value, first, _ in history if value != current[setting]]
        if not differing:
            continue
        value, first = differing[0]
        seen = f"{value}, not {current[setting]}" if setting == "tracking_plan_mode" else "another version"
        line = f"rows loaded since {first:%Y-%m-%d %H:%M} follow {what}: {seen}"
        (changed if history[-1][0] != current[setting] else accepted).append(line)
    return changed, accepted


def record_load_settings(warehouse: Path, current: dict[str, str], *, full_refresh: bool) -> None:
    """Record the settings the rows this run loaded follow (a full refresh reloaded them all)."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists meta")
        con.execute(
            "create table if not exists meta.load_settings (setting varchar, value varchar, loaded_at timestamp)"
        )
        if full_refresh:
            con.execute("delete from meta.load_settings")
        for setting, value in current.items():
            con.execute("insert into meta.load_settings values (?, ?, current_timestamp::timestamp)", [setting, value])
