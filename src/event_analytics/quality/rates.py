"""Checks of a run that no single row fails: the quarantine rate and the sources' freshness.

Quarantine rate: of the lines a run loaded from each landing folder (meta.landing_files.lines,
counted from the files' bytes by the reader), the share that reached quarantine.rejected_events
(a line counts once however many of its batch's messages were rejected). Above var
max_rejected_share the run warns, above max_rejected_share_error it fails; either way the problem
names the top reasons with their counts.

Freshness: `dbt source freshness` (models/sources.yml) leaves sources.json in the run's target
folder; a source dbt calls stale (warn or error) is a warning of the run.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import yaml

from event_analytics.alerts import Problem
from event_analytics.project import project_dir

TOP_REASONS = 3


def folder_of(column: str) -> str:
    """SQL: the landing folder of a path relative to the landing root (`.` for the root itself)."""
    return f"case when contains({column}, '/') then regexp_replace({column}, '/[^/]*$', '') else '.' end"


def quarantine_rate_problems(
    warehouse: Path, after: str | None, warn_share: float, error_share: float
) -> list[Problem]:
    """One problem per landing folder whose share of rejected lines, among the files loaded after
    `after` (the load time the last passed audit covered; None: every file), is above
    `warn_share` (severity warn) or `error_share` (error). Files loaded by runs that failed stay in
    scope until a run passes: a rerun that loads nothing new does not forget them."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            f"""
            with loaded as (
                select path, lines from meta.landing_files
                where cast(? as timestamp) is null or loaded_at > cast(? as timestamp)
            ),
            rejected_lines as (
                select source_file, reason, count(distinct line_number) as lines
                from quarantine.rejected_events
                where source_file in (select path from loaded)
                group by source_file, reason
            ),
            folders as (
                select {folder_of("path")} as folder, sum(lines) as lines
                from loaded group by 1
            ),
            reasons as (
                select {folder_of("source_file")} as folder, reason, sum(lines) as lines
                from rejected_lines group by 1, 2
            )
            select
                folders.folder,
                folders.lines,
                coalesce(sum(reasons.lines), 0) as rejected,
                list(struct_pack(reason := reasons.reason, lines := reasons.lines) order by reasons.lines desc,
                    reasons.reason) filter (where reasons.reason is not null) as top
            from folders
            left join reasons on folders.folder = reasons.folder
            group by folders.folder, folders.lines
            order by folders.folder
            """,
            [after, after],
        ).fetchall()
    problems = []
    for folder, lines, rejected, top in rows:
        share = rejected / lines if lines else 0.0
        if share <= warn_share:
            continue
        severity = "error" if share > error_share else "warn"
        limit = error_share if severity == "error" else warn_share
        reasons = ", ".join(f"{r['reason']} {r['lines']}" for r in (top or [])[:TOP_REASONS])
        problems.append(
            Problem(
                "quarantine_rate",
                "landing root" if folder == "." else folder,
                None,
                "max_rejected_share_error" if severity == "error" else "max_rejected_share",
                severity,
                f"{rejected} of {lines} lines quarantined ({share:.1%} > {limit:.1%}); top reasons: {reasons}",
            )
        )
    return problems


def freshness_problems(target_path: Path) -> list[Problem]:
    """The stale sources of the last `dbt source freshness` in `target_path`, as warnings."""
    try:
        results = json.loads((target_path / "sources.json").read_text())["results"]
    except (OSError, ValueError, KeyError):
        return []
    problems = []
    for result in results:
        status = result.get("status")
        if status not in {"warn", "error", "runtime error"}:
            continue
        source = result["unique_id"].removeprefix("source.").split(".", 1)[1]
        if status == "runtime error":
            detail = f"freshness could not be checked: {result.get('message') or result.get('error')}"
        else:
            hours = result["max_loaded_at_time_ago_in_s"] / 3600
            criteria = result.get("criteria") or {}
            limit = criteria.get("error_after" if status == "error" else "warn_after") or {}
            detail = (
                f"newest row {hours:,.1f} h old (max {result['max_loaded_at']}); "
                f"{status} after {limit.get('count')} {limit.get('period')}(s)"
            )
        problems.append(Problem("freshness", source, None, "source_freshness", "warn", detail))
    return problems


def stale_sources(warehouse: Path, warn_hours: float, error_hours: float) -> list[Problem]:
    """What `dbt source freshness` would say, for a run that has nothing to build (no dbt process
    to start): the same sources, fields and thresholds (models/sources.yml, the vars), in one query
    each."""
    spec = yaml.safe_load((project_dir() / "models" / "sources.yml").read_text())
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    problems = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for source in spec["sources"]:
            for table in source["tables"]:
                relation = f'"{source["schema"]}"."{table.get("identifier", table["name"])}"'
                try:
                    (newest,) = con.execute(f'select max("{table["loaded_at_field"]}") from {relation}').fetchone()
                except duckdb.Error as exc:
                    problems.append(
                        Problem(
                            "freshness",
                            f"{source['name']}.{table['name']}",
                            None,
                            "source_freshness",
                            "warn",
                            f"freshness could not be checked: {str(exc).splitlines()[0]}",
                        )
                    )
                    continue
                if newest is None:
                    continue
                hours = (now - newest).total_seconds() / 3600
                if hours <= warn_hours:
                    continue
                status, limit = ("error", error_hours) if hours > error_hours else ("warn", warn_hours)
                problems.append(
                    Problem(
                        "freshness",
                        f"{source['name']}.{table['name']}",
                        None,
                        "source_freshness",
                        "warn",
                        f"newest row {hours:,.1f} h old (max {newest}); {status} after {limit:g} hour(s)",
                    )
                )
    return problems
