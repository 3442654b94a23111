"""One scheduled run, start to end: check, load and build, audit, publish, alert, record.

`run_job` does what `event-analytics run` does and returns its outcome (the CLI turns it into an
exit code); tests call it directly. The steps:

1. Vars, the PII key, the landing folder and the serving folder are checked before any work
   (exit 2), and so are the settings the loaded rows follow (state.settings_drift).
2. The landing plan decides the step: nothing to do, audit only (the last build's audit failed
   and nothing changed since), or build (dbt build, then `dbt source freshness`).
3. The audit: dbt's data tests (in the build), the GX suites, the quarantine rate and freshness.
   Each failure is an alerts.Problem with a severity; any `error` fails the run (exit 1) and
   nothing is published; warnings alone publish and exit 0.
4. Alerts go out once per problem (alerts.py); a refused alert fails the run (exit 1).
5. `runs.jsonl` beside the warehouse gets the run's line, whatever happened (runlog.py).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from rich.console import Console
from rich.table import Table

from event_analytics import alerts, project
from event_analytics.alerts import Problem
from event_analytics.project import ConfigError
from event_analytics.runlog import Progress, RunRecord, new_run_id, runs_path

if TYPE_CHECKING:
    from event_analytics.serving import Published

console = Console(stderr=True, soft_wrap=True)
UNMATCHED_SHOWN = 5
DATA_DOCS_KEPT = 20


class Stop(Exception):  # noqa: N818 (a run's end, not an error of this code)
    """The run ends with this exit code and one-line reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class RunOptions:
    warehouse: Path
    serving: Path | None
    landing: str | None = None
    full_refresh: bool = False
    vars: str | None = None
    verbose: bool = False
    skip_validation: bool = False
    unit_tests: bool = False
    dev_key: bool = False
    accept_partial_settings: bool = False
    log_format: str = "text"
    target: str | None = None


@dataclass
class Audit:
    problems: list[Problem] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)  # kinds of check that ran: gx, dbt, ...

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warn"]


def run_job(options: RunOptions) -> RunRecord:
    """Run the pipeline once; raises Stop for any exit other than 0 (the record is written either way)."""
    started = dt.datetime.now(dt.UTC)
    record = RunRecord(new_run_id(started), str(options.warehouse), started.isoformat(timespec="milliseconds"))
    progress = Progress(options.log_format)
    try:
        _run(options, record, progress, started.replace(tzinfo=None))
    except Stop as stop:
        record.finish(stop.code, stop.reason)
        raise
    except Exception as exc:
        record.finish(project.EXIT_PIPELINE_ERROR, f"{type(exc).__name__}: {exc}")
        raise
    else:
        record.finish(0, "; ".join(record.warnings) or None)
    finally:
        record.append_to(runs_path(options.warehouse))
    return record


def _run(options: RunOptions, record: RunRecord, progress: Progress, started: dt.datetime) -> None:
    from event_analytics import spark_job

    try:
        engine = spark_job.target_type(options.target)
    except ConfigError as exc:
        raise Stop(project.EXIT_CONFIG_ERROR, str(exc)) from exc
    if engine == "spark":
        spark_job.run(options, record, progress)
        return
    _run_duckdb(options, record, progress, started)


def _run_duckdb(options: RunOptions, record: RunRecord, progress: Progress, started: dt.datetime) -> None:
    from event_analytics.ingest import plan_load
    from event_analytics.pipeline import landing_location, parse_vars
    from event_analytics.plan import compile_plan, read_plan
    from event_analytics.secrets import resolve_pii_key
    from event_analytics.serving import check_serving_dir
    from event_analytics.state import load_settings, next_step, settings_drift

    warehouse, serving = options.warehouse, options.serving
    try:
        dbt_vars, var_warnings = parse_vars(options.vars)
        pii_key, key_note = resolve_pii_key(warehouse, allow_local=options.dev_key)
        settings = project.project_vars(dbt_vars)
        root = landing_location(options.landing or project.resolve_landing(settings["landing_path"]))
        check_serving_dir(serving, warehouse, root)
    except ConfigError as exc:
        raise Stop(project.EXIT_CONFIG_ERROR, str(exc)) from exc
    for warning in var_warnings:
        say_warning(progress, record, warning)
    if key_note:
        console.print(key_note, markup=False, highlight=False)
    run_state = {**dbt_vars, "landing_path": root}

    progress.stage_start("plan", root)
    try:
        plan = plan_load(
            root, warehouse.resolve(), {**settings, "landing_path": root}, full_refresh=options.full_refresh
        )
    except ConfigError as exc:
        raise Stop(project.EXIT_CONFIG_ERROR, str(exc)) from exc
    report_landing(plan)
    record.files_loaded = len(plan.files)
    record.seconds["plan"] = round(progress.stage_end("plan", files=len(plan.files)), 3)
    if not plan.files and not plan.rejected and not plan.deferred and not plan.loaded_before:
        raise Stop(
            project.EXIT_VALIDATION_FAILED, f"no event file in {root} (var landing_patterns), and none loaded before"
        )

    current = load_settings(dbt_vars, compile_plan(read_plan()), pii_key)
    changed, accepted = ([], []) if options.full_refresh else settings_drift(warehouse, current)
    if changed and not options.accept_partial_settings:
        raise Stop(
            project.EXIT_CONFIG_ERROR,
            f"settings changed since rows were loaded: {'; '.join(changed)}: rerun with --full-refresh to reload "
            "everything with them, or --accept-partial-settings to apply them to new rows only",
        )
    for line in changed + accepted:
        say_warning(progress, record, f"partial settings: {line}")

    step = "build" if options.full_refresh else next_step(plan, warehouse, run_state)
    if step == "nothing":
        console.print("nothing to do: no new landing files, project files or vars since the last successful run")
        record.dbt = record.gx = "skipped"
        print_summary(warehouse, None, progress, record)
        publish_if_never_published(warehouse, serving, record)
        # a sender that stopped sending is found by runs with nothing to do
        from event_analytics.quality.rates import stale_sources

        audit = Audit(checked={"freshness"})
        audit.problems = stale_sources(
            warehouse, settings["freshness_warn_after_hours"], settings["freshness_error_after_hours"]
        )
        show_problems(audit.problems)
        alert_and_record(options, record, audit, exit_code=0)
        record.warnings.extend(str(p) for p in audit.problems)
        return

    audit = Audit()
    result = None
    if step == "build":
        result = build(options, record, progress, plan, root, dbt_vars, pii_key, audit, run_state)
        if record.dbt == "success":
            record_built(warehouse, run_state, current, options.full_refresh)
        count_loaded(warehouse, record, started)
        print_summary(warehouse, result, progress, record)
        if record.dbt in ("success", "tests_failed"):
            rejected_files(warehouse, started.isoformat(sep=" "))
    else:
        console.print("the last build's audit failed and nothing changed since: auditing again, without a build")
        record.dbt = "skipped"

    if not audit.errors and not options.skip_validation:
        validate(options, record, progress, audit, run_state, settings, started)
    elif options.skip_validation:
        record.gx = "skipped"

    finish(options, record, progress, audit, run_state)


def build(
    options: RunOptions,
    record: RunRecord,
    progress: Progress,
    plan: Any,
    root: str,
    dbt_vars: dict[str, Any],
    pii_key: str,
    audit: Audit,
    run_state: dict[str, Any],
) -> Any:
    """dbt build and source freshness; a failing test is a problem, anything else stops the run."""
    from event_analytics.locking import duckdb_lock_conflict
    from event_analytics.quality.rates import freshness_problems
    from event_analytics.state import record_build_failed, record_build_started

    warehouse = options.warehouse
    record_build_started(warehouse, run_state)
    progress.stage_start("dbt", f"{len(plan.files)} new file(s)")
    result = dbt_build(options, progress, plan, root, dbt_vars, pii_key, full_refresh=options.full_refresh)
    record.seconds.update({k: round(v, 3) for k, v in result.stage_seconds().items()})
    record.seconds["dbt"] = round(progress.stage_end("dbt", "ok" if result.ok else "failed"), 3)
    if not result.ok:
        record_build_failed(warehouse, run_state)
        conflict = duckdb_lock_conflict(result.output, warehouse)
        if conflict is not None:
            record.dbt = "error"
            raise Stop(project.EXIT_BUSY, conflict)
        if not result.only_tests_failed:
            record.dbt = "error"
            if not options.verbose:
                console.print(result.output[-4000:], markup=False, highlight=False)
            audit.problems.append(
                Problem("pipeline", "dbt build", None, "model_error", "error", result.failure_reason())
            )
            alert_and_record(options, record, audit, exit_code=project.EXIT_PIPELINE_ERROR)
            console.print(not_published(options.serving, "this run failed"), markup=False, highlight=False)
            raise Stop(project.EXIT_PIPELINE_ERROR, result.failure_reason())
        record.dbt = "tests_failed"
    else:
        record.dbt = "success"
    audit.checked.add("dbt")
    failed_tests = [n for n in result.nodes if n.resource_type == "test" and n.status in {"fail", "warn"}]
    tested = tested_relations(result.target_path) if failed_tests else {}
    for node in failed_tests:
        relation, column = tested.get(node.unique_id, ("dbt test", None))
        audit.problems.append(
            Problem(
                f"dbt:{node.name}",
                relation,
                column,
                node.name,
                "error" if node.status == "fail" else "warn",
                " ".join((node.message or node.status).split()),
            )
        )
    if result.ok and result.target_path is not None:
        audit.checked.add("freshness")
        audit.problems.extend(freshness_problems(result.target_path))
    return result


def dbt_build(
    options: RunOptions,
    progress: Progress,
    plan: Any,
    root: str,
    dbt_vars: dict[str, Any],
    pii_key: str,
    *,
    full_refresh: bool,
) -> Any:
    """`dbt build` then `dbt source freshness` on the options' target; a configuration error stops
    the run (exit 2)."""
    from event_analytics.pipeline import run_dbt

    try:
        return run_dbt(
            "build",
            landing=root,
            warehouse=options.warehouse,
            full_refresh=full_refresh,
            dbt_vars=dbt_vars,
            stream=options.verbose,
            pii_key=pii_key,
            unit_tests=options.unit_tests,
            plan=plan,
            freshness=True,
            on_event=progress.node,
            target=options.target,
        )
    except ConfigError as exc:
        raise Stop(project.EXIT_CONFIG_ERROR, str(exc)) from exc


def tested_relations(target_path: Path | None) -> dict[str, tuple[str, str | None]]:
    """Each dbt test's (relation, column), from the manifest the run's parse wrote."""
    import json

    try:
        nodes = json.loads((target_path / "manifest.json").read_text())["nodes"]  # type: ignore[operator]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    tested = {}
    for unique_id, node in nodes.items():
        if node.get("resource_type") != "test":
            continue
        attached = (node.get("attached_node") or "").split(".")[-1]
        model = nodes.get(node.get("attached_node") or "", {})
        relation = f"{model.get('schema')}.{attached}" if model else attached or "dbt test"
        tested[unique_id] = (relation, node.get("column_name"))
    return tested


def record_built(warehouse: Path, run_state: dict[str, Any], current: dict[str, str], full_refresh: bool) -> None:
    from event_analytics.state import record_build, record_load_settings

    record_build(warehouse, run_state)
    record_load_settings(warehouse, current, full_refresh=full_refresh)


def validate(
    options: RunOptions,
    record: RunRecord,
    progress: Progress,
    audit: Audit,
    run_state: dict[str, Any],
    settings: dict[str, Any],
    started: dt.datetime,
) -> None:
    """The GX suites (rows built since the last passed audit, the files rejected since `started`
    among them) and the quarantine rate of the files loaded since the last passed audit."""
    from event_analytics.quality.rates import quarantine_rate_problems
    from event_analytics.state import audited_through, validated_through

    warehouse = options.warehouse
    since = started.isoformat(sep=" ")
    changed_since = None if options.full_refresh else validated_through(warehouse, run_state)
    progress.stage_start("gx", "rows built since the last audit" if changed_since else "all rows")
    report = gx_audit(
        warehouse,
        audit,
        settings,
        changed_since=changed_since,
        dbt_tested=record.dbt == "success",
        rejected_files_since=since,
    )
    record.seconds["gx"] = round(progress.stage_end("gx", "passed" if report.success else "found problems"), 3)
    record.gx = "passed" if report.success else "failed"
    audit.checked.add("quarantine_rate")
    audit.problems.extend(
        quarantine_rate_problems(
            warehouse, audited_through(warehouse), settings["max_rejected_share"], settings["max_rejected_share_error"]
        )
    )


def gx_audit(
    warehouse: Path,
    audit: Audit,
    settings: dict[str, Any],
    *,
    data_docs: Path | None = None,
    changed_since: str | None = None,
    dbt_tested: bool = False,
    rejected_files_since: str | None = None,
) -> Any:
    """Run the GX suites; their failures join the audit's problems with their severity."""
    from event_analytics.locking import duckdb_lock_conflict
    from event_analytics.quality.checks import severity_of, validate_warehouse

    docs = data_docs or warehouse.parent / "data_docs"
    try:
        report = validate_warehouse(
            warehouse,
            data_docs=docs,
            changed_since=changed_since,
            dbt_tested=dbt_tested,
            rejected_files_since=rejected_files_since,
            # receivedAt may itself lie max_future_minutes after its file's time (staging's rule)
            future_tolerance_minutes=2 * float(settings["max_future_minutes"]),
        )
    except ConfigError as exc:
        raise Stop(project.EXIT_CONFIG_ERROR, str(exc)) from exc
    except Exception as exc:  # GX or the warehouse failing is the pipeline's failure, not the data's
        conflict = duckdb_lock_conflict(str(exc), warehouse)
        if conflict is not None:
            raise Stop(project.EXIT_BUSY, conflict) from None
        raise Stop(project.EXIT_PIPELINE_ERROR, f"validation could not run: {type(exc).__name__}: {exc}") from exc
    prune_data_docs(docs)
    audit.checked.add("gx")
    for failure in report.failures:
        audit.problems.append(
            Problem(
                f"gx:{failure.suite.removesuffix('.changed_rows')}",
                failure.relation,
                failure.column,
                failure.expectation,
                severity_of(failure, str(settings["tracking_plan_mode"])),  # type: ignore[arg-type]
                failure.detail,
                tuple(failure.examples),
            )
        )
    summary = (
        f"{report.suites} suites, {report.expectations} expectations, {len(report.failures)} failed "
        f"in {report.seconds:.1f} s; Data Docs: {report.data_docs}"
    )
    if changed_since:
        summary += f"; row-by-row checks on rows built after {changed_since}"
    if dbt_tested:
        summary += "; dbt's tests not repeated"
    console.print(f"validation {'passed' if report.success else 'found problems'}: {summary}", markup=False)
    return report


def validate_only(warehouse: Path, data_docs: Path | None = None) -> None:
    """`event-analytics validate`: the GX suites over the whole warehouse, alerting as a run does;
    Stop(1) when one found an error."""
    audit = Audit()
    settings = project.project_vars()
    gx_audit(warehouse, audit, settings, data_docs=data_docs)
    show_problems(audit.problems)
    record = RunRecord(new_run_id(), str(warehouse), alerts.utc_now(), command="validate")
    alert_and_record(RunOptions(warehouse, serving=None), record, audit, exit_code=1 if audit.errors else 0)
    if audit.errors:
        first = audit.errors[0]
        more = f" (and {len(audit.errors) - 1} more)" if len(audit.errors) > 1 else ""
        raise Stop(project.EXIT_VALIDATION_FAILED, f"validation failed: {first}{more}")


def prune_data_docs(docs: Path, keep: int = DATA_DOCS_KEPT) -> None:
    """Keep the pages of the last `keep` validations of each suite (Data Docs grow by every one)."""
    validations = docs / "validations"
    if not validations.is_dir():
        return
    runs: dict[Path, list[Path]] = {}
    for page in validations.rglob("*.html"):
        # validations/<suite parts>/<run name>/<run time>/<batch>.html
        run_dir = page.parent.parent
        runs.setdefault(run_dir.parent, []).append(run_dir)
    for suite_dir, run_dirs in runs.items():
        ordered = sorted(set(run_dirs), key=lambda p: p.stat().st_mtime)
        for old in ordered[:-keep]:
            for path in sorted(old.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
            old.rmdir()
        del suite_dir


def finish(
    options: RunOptions,
    record: RunRecord,
    progress: Progress,
    audit: Audit,
    run_state: dict[str, Any] | None,
    publish_with: Callable[[], Published] | None = None,
) -> None:
    """Publish when no error was found, record the success, alert, and end the run. `run_state`:
    what the DuckDB warehouse records of a successful run (None on Spark, whose folder keeps its
    own); `publish_with` as for publish_marts."""
    from event_analytics.serving import SUITES_PASSED
    from event_analytics.state import record_success

    warehouse, serving = options.warehouse, options.serving
    show_problems(audit.problems)
    if not audit.errors:
        if options.skip_validation:
            console.print(not_published(serving, "--skip-validation leaves the audit unfinished"), markup=False)
        else:
            # Before the success is recorded: a run whose publish fails is redone, and publishes, next time.
            publish_marts(warehouse, serving, SUITES_PASSED, record, publish_with)
        if run_state is not None:
            record_success(warehouse, run_state, validated=not options.skip_validation)
    exit_code = project.EXIT_VALIDATION_FAILED if audit.errors else 0
    alert_and_record(options, record, audit, exit_code=exit_code)
    if audit.errors:
        console.print(not_published(serving, "this run failed"), markup=False)
        first = audit.errors[0]
        more = f" (and {len(audit.errors) - 1} more)" if len(audit.errors) > 1 else ""
        raise Stop(project.EXIT_VALIDATION_FAILED, f"{first}{more}")
    if audit.warnings:
        for problem in audit.warnings:
            record.warnings.append(str(problem))
        console.print(f"passed with {len(audit.warnings)} warning(s)", markup=False)


def alert_and_record(options: RunOptions, record: RunRecord, audit: Audit, *, exit_code: int) -> None:
    """Post what is new or resolved (once), keep the open problems, and count them in the record."""
    warehouse = options.warehouse
    record.problems = alerts.counts(audit.problems)
    now = alerts.utc_now()
    state = alerts.load_state(warehouse)
    triaged, updated = alerts.triage(audit.problems, state, audit.checked, now)
    for problem, since in triaged.ongoing:
        console.print(f"still failing since {since}: {problem}", markup=False, highlight=False)
    for entry in triaged.resolved:
        console.print(f"resolved: {entry.get('problem', entry['key'])}", markup=False, highlight=False)
    webhook = os.environ.get(alerts.WEBHOOK_VARIABLE)
    if webhook and triaged.worth_posting:
        outcome = (
            "run failed: nothing published"
            if exit_code
            else ("passed with warnings: published" if audit.problems else "passed: published")
        )
        if exit_code and options.serving:
            outcome += f" ({not_published(options.serving, 'this run failed')})"
        message = alerts.message(
            alerts.Headline(str(warehouse), record.run_id, exit_code, outcome),
            triaged,
            os.environ.get(alerts.DATA_DOCS_URL_VARIABLE) or None,
        )
        try:
            alerts.post(webhook, message)
        except alerts.AlertError as exc:
            alerts.save_state(warehouse, updated)  # not marked posted: the next run posts them again
            raise Stop(project.EXIT_VALIDATION_FAILED, str(exc)) from None
        updated = alerts.mark_posted(updated)
    alerts.save_state(warehouse, updated)


def show_problems(problems: list[Problem]) -> None:
    if not problems:
        return
    # a line per problem, never a table: cron mails and CI logs are 80 columns wide and grep-able
    console.print("problems found (offending values masked):", markup=False, highlight=False)
    for p in problems:
        console.print(f"  {p.severity}: {p}", markup=False, highlight=False)


def say_warning(progress: Progress, record: RunRecord, text: str) -> None:
    record.warnings.append(text)
    progress.warning(text)


def not_published(serving: Path, why: str) -> str:
    from event_analytics.serving import last_published

    last = last_published(serving)
    since = f"the copy published at {last['published_at']}" if last else "no copy yet"
    return f"not published ({why}): BI tools keep {since} in {serving}"


def stop_for(exc: Exception, warehouse: Path, doing: str) -> Stop:
    """Exit 4 when another process holds the DuckDB file, else a pipeline error: one line each."""
    from event_analytics.locking import duckdb_lock_conflict

    conflict = duckdb_lock_conflict(str(exc), warehouse)
    if conflict is not None:
        return Stop(project.EXIT_BUSY, conflict)
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return Stop(project.EXIT_PIPELINE_ERROR, f"{doing}: {reason}")


def publish_reviewed(warehouse: Path, serving: Path) -> None:
    """`event-analytics publish`: a person reviewed the audit. Recorded first (the files loaded so
    far count as audited for the quarantine rate), as it writes the working file: a reader holding
    it open stops the publish (exit 4) before anything reaches BI tools."""
    from event_analytics.serving import SUITES_NOT_RUN
    from event_analytics.state import record_accepted

    try:
        record_accepted(warehouse)
    except duckdb.Error as exc:
        raise stop_for(exc, warehouse, f"warehouse {warehouse}") from None
    publish_marts(warehouse, serving, SUITES_NOT_RUN)


def publish_marts(
    warehouse: Path,
    serving: Path,
    suites: str,
    record: RunRecord | None = None,
    publish_with: Callable[[], Published] | None = None,
) -> None:
    """Publish, then say so and where the report is; `suites`: the audit's outcome (serving.SUITES_*).
    `publish_with` publishes instead of serving.publish (a Spark build's, spark_publish)."""
    from filelock import Timeout

    from event_analytics.serving import publish

    try:
        published = publish_with() if publish_with is not None else publish(warehouse, serving, suites)
    except (OSError, RuntimeError, duckdb.Error, Timeout) as exc:
        raise stop_for(exc, warehouse, f"publishing to {serving} failed") from None
    if record is not None:
        record.published = True
        record.rows = {f"marts.{name}": rows for name, rows in published.marts.items()}
    rows = sum(published.marts.values())
    console.print(
        f"published {len(published.marts)} marts ({rows:,} rows) to {serving} at {published.published_at}",
        markup=False,
        highlight=False,
    )
    console.print(f"report: {published.report}", markup=False, highlight=False)


def publish_if_never_published(warehouse: Path, serving: Path, record: RunRecord) -> None:
    """Nothing new, but never published (a warehouse from before the serving copy, say)."""
    from event_analytics.serving import SUITES_OF_LAST_RUN, last_published

    if last_published(serving) is None:
        publish_marts(warehouse, serving, SUITES_OF_LAST_RUN, record)


def report_landing(plan: Any) -> None:
    """What the listing found besides the files to load."""
    notes = []
    if plan.unmatched:
        shown = ", ".join(plan.unmatched[:UNMATCHED_SHOWN])
        more = ", ..." if len(plan.unmatched) > UNMATCHED_SHOWN else ""
        notes.append(f"{len(plan.unmatched)} file(s) match no landing_patterns and are not read: {shown}{more}")
    if plan.skipped_links:
        shown = ", ".join(plan.skipped_links[:UNMATCHED_SHOWN])
        notes.append(f"{len(plan.skipped_links)} symlink(s) not followed (landing_follow_symlinks): {shown}")
    if plan.deferred:
        notes.append(f"{len(plan.deferred)} file(s) modified within landing_settle_seconds wait for the next run")
    for note in notes:
        console.print(note, markup=False, highlight=False)


def rejected_files(warehouse: Path, since: str) -> list[tuple[str, str, str]]:
    """The landing files rejected by the run that started at `since`, printed as a table."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select source_file, reason, detail from quarantine.rejected_files "
            "where rejected_at >= cast(? as timestamp) order by source_file",
            [since],
        ).fetchall()
    if rows:
        table = Table(title="landing files rejected (no line of them loaded)")
        for column in ("source_file", "reason", "detail"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    return rows


def count_loaded(warehouse: Path, record: RunRecord, started: dt.datetime) -> None:
    """Files and lines this run loaded (meta.landing_files: counted from the files' bytes)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        files, lines = con.execute(
            "select count(*), coalesce(sum(lines), 0) from meta.landing_files where loaded_at >= cast(? as timestamp)",
            [started.isoformat(sep=" ")],
        ).fetchone()  # type: ignore[misc]
    record.files_loaded, record.lines_loaded = int(files), int(lines)


def print_summary(
    warehouse: Path, result: Any, progress: Progress | None = None, record: RunRecord | None = None
) -> None:
    """The warehouse's counts and the stages' seconds: a table, or with --log-format json a
    `summary` event."""
    from dataclasses import asdict

    from event_analytics.summary import warehouse_counts

    counts = warehouse_counts(warehouse)
    if record is not None:
        record.rows.update(asdict(counts))
    if progress is not None and progress.json:
        progress.emit({"event": "summary", **asdict(counts)})
        return
    table = Table(title=f"event-analytics run: {warehouse}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name in ("messages_read", "events", "sessions", "users", "quarantined", "duplicates"):
        table.add_row(name.replace("_", " "), f"{getattr(counts, name):,}")
    if result is not None:
        for stage, seconds in result.stage_seconds().items():
            table.add_row(f"seconds: {stage}", f"{seconds:.1f}")
        table.add_row("seconds: total (wall)", f"{result.wall_seconds:.1f}")
    Console().print(table)
