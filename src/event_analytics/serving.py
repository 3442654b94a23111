"""Publish the audited marts to a serving copy that BI tools read while runs go on.

Write-audit-publish: `run` builds the working warehouse, audits it (dbt tests, GX suites), and only
then publishes, into the serving folder (default `warehouse/serving`, or --serving /
$EVENT_ANALYTICS_SERVING_DIR):

- `analytics.duckdb`: the `marts` schema alone, with the table and column comments that dbt's
  persist_docs wrote to the working warehouse. It is written under a temporary name and renamed
  over the old one: a reader that has the old file open keeps reading that snapshot, a new reader
  opens the new one, and no reader ever holds a lock on the working warehouse.
- `parquet/<mart>.parquet` (zstd): `parquet` is a symlink to `versions/<publish id>/`, switched by
  a rename; the last KEPT_VERSIONS versions stay, so a reader part way through a folder finishes it.
- `manifest.json`: the publish id, when, the landing files and rows it covers, each mart's row
  count and columns, and `quality`: the audit's outcome and the quarantine's counts (see
  quality_status; counts only, no line of the quarantine).
- `report.html`: the HTML report of the new copy (report.py). It is rendered from the new copy
  before anything is switched, so a report that fails fails the publish and leaves the old copy,
  report included, as it was; it is renamed into place last, after the manifest.

Nothing else of the working warehouse (quarantine, staging, intermediate, meta: raw text and
personal data among them) is copied.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from filelock import FileLock

from event_analytics.project import ConfigError

SERVING_VARIABLE = "EVENT_ANALYTICS_SERVING_DIR"
SERVED_SCHEMA = "marts"
DATABASE_NAME = "analytics.duckdb"
PARQUET_LINK = "parquet"
VERSIONS = "versions"
MANIFEST = "manifest.json"
REPORT = "report.html"
KEPT_VERSIONS = 3
LOCK_NAME = ".publish.lock"
PUBLISH_ID = re.compile(r"\d{8}T\d{12}Z")
# What a publish writes under a temporary name (a killed publish leaves them behind)
TEMPORARY = re.compile(r"\.(analytics\.duckdb|parquet|manifest\.json|report\.html)\.\d+\.tmp(\.wal)?")
# The audit's outcome, as the caller of publish() knows it (manifest `quality.suites`)
SUITES_PASSED = "passed"  # the run that publishes ran dbt's data tests and the GX suites: all passed
SUITES_NOT_RUN = "not run"  # `event-analytics publish`: published by hand, the suites did not run
SUITES_OF_LAST_RUN = "of the last run"  # nothing new since the last successful run: its outcome


def default_serving_dir(warehouse: Path) -> Path:
    """$EVENT_ANALYTICS_SERVING_DIR (relative to the working directory, as --serving is), else
    `serving/` beside the working warehouse."""
    override = os.environ.get(SERVING_VARIABLE)
    if override:
        return Path(override)
    return warehouse.parent / "serving"


def check_serving_dir(serving: Path, warehouse: Path, landing: str | None = None) -> None:
    """Refuse a serving folder a publish would damage or that would feed back into the pipeline."""
    for path in (serving, warehouse):
        if "?" in str(path.resolve()):
            raise ConfigError(f"{path}: DuckDB cannot open files under a path with '?'")
    if (serving / DATABASE_NAME).resolve() == warehouse.resolve():
        raise ConfigError(f"{serving / DATABASE_NAME} is the working warehouse: the serving copy needs its own folder")
    if landing is not None and "://" not in landing and serving.resolve().is_relative_to(Path(landing).resolve()):
        raise ConfigError(f"{serving} is inside the landing folder {landing}: its files would be read as events")
    if serving.exists() and not serving.is_dir():
        raise ConfigError(f"{serving} is not a folder")
    if serving.is_dir() and not (serving / MANIFEST).exists():
        foreign = [path.name for path in serving.iterdir() if not is_publish_file(path)]
        if foreign:
            raise ConfigError(
                f"{serving} holds {foreign[0]!r} and no {MANIFEST}: not a serving copy; give an empty or new folder"
            )


def is_publish_file(path: Path) -> bool:
    """Whether a publish writes this (a first publish that was killed leaves some)."""
    if path.name == PARQUET_LINK:
        return path.is_symlink()
    return path.name in {DATABASE_NAME, VERSIONS, MANIFEST, LOCK_NAME, REPORT} or bool(TEMPORARY.fullmatch(path.name))


@dataclass(frozen=True)
class Published:
    publish_id: str
    published_at: str
    folder: Path
    marts: dict[str, int]  # mart -> rows
    report: Path | None = None


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def publish(warehouse: Path, serving: Path, suites: str = SUITES_NOT_RUN, origin: str | None = None) -> Published:
    """Copy the working warehouse's marts to `serving` (see the module's docstring); one publish
    to a folder at a time. The caller checks the folder first (check_serving_dir). `suites`: what
    the caller knows of the audit (SUITES_*), recorded in the manifest and the report. `origin`:
    where the marts were built, for the manifest, when not `warehouse` (spark_publish)."""
    serving.mkdir(parents=True, exist_ok=True)
    # Two warehouses may publish to one folder: one publish at a time.
    with FileLock(str(serving / LOCK_NAME), timeout=PUBLISH_WAIT_SECONDS):
        return publish_locked(warehouse, serving, suites, origin)


PUBLISH_WAIT_SECONDS = 600


def publish_locked(
    warehouse: Path, serving: Path, suites: str = SUITES_NOT_RUN, origin: str | None = None
) -> Published:
    from event_analytics.report import render_report

    now = dt.datetime.now(dt.UTC)
    publish_id = now.strftime("%Y%m%dT%H%M%S%fZ")  # sorts by time: prune_versions relies on it
    remove_leftovers(serving)
    temporary = serving / f".{DATABASE_NAME}.{os.getpid()}.tmp"
    report = serving / f".{REPORT}.{os.getpid()}.tmp"
    version = serving / VERSIONS / publish_id
    shutil.rmtree(version, ignore_errors=True)
    version.mkdir(parents=True)
    try:
        with duckdb.connect(str(temporary)) as con:
            con.execute("set enable_progress_bar = false")  # it would print on the run's stdout
            con.execute(f"attach {literal(str(warehouse))} as working (read_only)")
            marts = mart_descriptions(con)
            if not marts:
                raise RuntimeError(f"{warehouse} holds no {SERVED_SCHEMA} tables: nothing to publish")
            con.execute(f"create schema {SERVED_SCHEMA}")
            counts: dict[str, int] = {}
            for name, (comment, columns) in marts.items():
                source = f"working.{SERVED_SCHEMA}.{quoted(name)}"
                target = f"{SERVED_SCHEMA}.{quoted(name)}"
                con.execute(f"create table {target} as select * from {source}")
                if comment:
                    con.execute(f"comment on table {target} is {literal(comment)}")
                for column, column_comment in columns:
                    if column_comment:
                        con.execute(f"comment on column {target}.{quoted(column)} is {literal(column_comment)}")
                counts[name] = con.execute(f"select count(*) from {target}").fetchone()[0]
                parquet = version / f"{name}.parquet"
                con.execute(f"copy {target} to {literal(str(parquet))} (format parquet, compression zstd)")
            covered = landing_coverage(con)
            quality = quality_status(con, suites)
            columns_of = {name: [c for c, _ in columns] for name, (_, columns) in marts.items()}
            con.execute("detach working")
            con.execute("checkpoint")
        manifest = {
            "publish_id": publish_id,
            "published_at": now.isoformat(timespec="seconds"),
            "warehouse": origin or str(warehouse),
            "landing": covered,
            "marts": {name: {"rows": counts[name], "columns": columns_of[name]} for name in marts},
            "quality": quality,
        }
        # The report of the new copy, before anything is switched: if it fails, nothing is.
        report.write_text(render_report(temporary, manifest), encoding="utf-8")
        # DuckDB would replay a write-ahead log left beside the name into the new file
        (serving / f"{DATABASE_NAME}.wal").unlink(missing_ok=True)
        os.replace(temporary, serving / DATABASE_NAME)
    except BaseException:
        temporary.unlink(missing_ok=True)
        report.unlink(missing_ok=True)
        shutil.rmtree(version, ignore_errors=True)
        raise
    switch_link(serving / PARQUET_LINK, Path(VERSIONS) / publish_id)
    write_atomically(serving / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    os.replace(report, serving / REPORT)
    prune_versions(serving / VERSIONS, keep=publish_id)
    return Published(publish_id, manifest["published_at"], serving, counts, serving / REPORT)


def mart_descriptions(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str | None, list[tuple[str, str | None]]]]:
    """Each mart table of the attached working warehouse: its comment and (column, comment) list."""
    # fct_events is a view over its intermediate model: the serving copy stores its rows
    tables = con.execute(
        "select table_name, comment from duckdb_tables() where database_name = 'working' and schema_name = ? "
        "union all "
        "select view_name, comment from duckdb_views() where database_name = 'working' and schema_name = ? "
        "order by 1",
        [SERVED_SCHEMA, SERVED_SCHEMA],
    ).fetchall()
    result = {}
    for name, comment in tables:
        columns = con.execute(
            "select column_name, comment from duckdb_columns() "
            "where database_name = 'working' and schema_name = ? and table_name = ? order by column_index",
            [SERVED_SCHEMA, name],
        ).fetchall()
        result[name] = (comment, columns)
    return result


def landing_coverage(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The landing files the working warehouse has loaded, and their lines (meta.landing_files)."""
    try:
        files, lines = con.execute(
            "select count(*), coalesce(sum(lines), 0) from working.meta.landing_files"
        ).fetchone()
    except duckdb.Error:
        return {"files": 0, "lines": 0}
    return {"files": files, "lines": int(lines)}


SUITE_DETAILS = {
    SUITES_PASSED: "dbt's data tests and the GX suites passed in the run that published",
    SUITES_NOT_RUN: "published by hand (event-analytics publish): no suite ran before this publish",
}


def quality_status(con: duckdb.DuckDBPyConnection, suites: str) -> dict[str, Any]:
    """The working warehouse's data-quality status, counts only: the audit's outcome (`suites`, a
    SUITES_* value), the quarantined lines by reason, the duplicate copies discarded, and the
    landing files the latest build rejected, by reason."""
    if suites == SUITES_OF_LAST_RUN:
        # nothing was built since the last successful run: it validated these marts, or skipped the suites
        validated = scalar(con, "select validated from working.meta.pipeline_runs order by finished_at desc limit 1")
        status = SUITES_PASSED if validated else SUITES_NOT_RUN
        detail = (
            "dbt's data tests and the GX suites passed in the last run, which built these marts"
            if validated
            else "the last run, which built these marts, skipped the GX suites (--skip-validation)"
        )
    else:
        status, detail = suites, SUITE_DETAILS.get(suites, "")
    quarantined = grouped(con, "select reason, count(*) from working.quarantine.rejected_events group by 1")
    # rejected_files keeps every build's rejections: those of the latest build (its watermarks'
    # time, which is when its rows are stamped) are the files whose lines these marts lack
    latest_build = scalar(con, "select max(processed_through) from working.meta.incremental_watermarks")
    rejected = grouped(
        con,
        "select reason, count(distinct source_file) from working.quarantine.rejected_files "
        "where rejected_at >= coalesce(?, timestamp '-infinity') group by 1",
        [latest_build],
    )
    return {
        "suites": {"status": status, "detail": detail},
        "quarantined": None if quarantined is None else {"total": sum(quarantined.values()), "by_reason": quarantined},
        "duplicates": scalar(con, "select count(*) from working.quarantine.duplicate_events"),
        "rejected_files": None
        if rejected is None
        else {
            "files": sum(rejected.values()),
            "by_reason": rejected,
            "latest_build": None if latest_build is None else latest_build.isoformat(sep=" ", timespec="seconds"),
        },
    }


def scalar(con: duckdb.DuckDBPyConnection, sql: str, parameters: list[Any] | None = None) -> Any:
    """The query's one value; None when the warehouse lacks the relation (an older warehouse)."""
    try:
        row = con.execute(sql, parameters or []).fetchone()
    except duckdb.CatalogException:
        return None
    return None if row is None else row[0]


def grouped(con: duckdb.DuckDBPyConnection, sql: str, parameters: list[Any] | None = None) -> dict[str, int] | None:
    try:
        rows = con.execute(sql + " order by 2 desc, 1", parameters or []).fetchall()
    except duckdb.CatalogException:
        return None
    return {str(key): int(count) for key, count in rows}


def remove_leftovers(serving: Path) -> None:
    """What a killed publish left: its temporary files, and versions newer than the published one."""
    for path in serving.iterdir():
        if TEMPORARY.fullmatch(path.name):
            path.unlink(missing_ok=True)
    link = serving / PARQUET_LINK
    current = Path(os.readlink(link)).name if link.is_symlink() else ""
    versions = serving / VERSIONS
    for version in versions.iterdir() if versions.is_dir() else []:
        if PUBLISH_ID.fullmatch(version.name) and version.name > current:
            shutil.rmtree(version, ignore_errors=True)


def switch_link(link: Path, target: Path) -> None:
    """Point `link` at `target` by renaming a new symlink over it (readers see one or the other)."""
    if link.exists() and not link.is_symlink():
        raise RuntimeError(f"{link} is not the symlink a publish writes: move it away")
    fresh = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    fresh.unlink(missing_ok=True)
    fresh.symlink_to(target, target_is_directory=True)
    os.replace(fresh, link)


def write_atomically(path: Path, text: str) -> None:
    fresh = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fresh.write_text(text)
    os.replace(fresh, path)


def prune_versions(versions: Path, keep: str) -> None:
    """Keep the newest KEPT_VERSIONS versions (publish ids sort by time), `keep` always."""
    names = sorted(p.name for p in versions.iterdir() if p.is_dir() and PUBLISH_ID.fullmatch(p.name))
    for name in names[:-KEPT_VERSIONS]:
        if name != keep:
            shutil.rmtree(versions / name, ignore_errors=True)


def last_published(serving: Path) -> dict[str, Any] | None:
    """The manifest of the serving copy, if one was published."""
    try:
        return json.loads((serving / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
