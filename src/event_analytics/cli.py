"""The `event-analytics` command: a thin layer over generate, pipeline and summary."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from event_analytics import project
from event_analytics.project import ConfigError
from event_analytics.secrets import PII_KEY_VARIABLE, resolve_pii_key

if TYPE_CHECKING:
    from event_analytics.ingest import LoadPlan
    from event_analytics.pipeline import RunResult

app = typer.Typer(help="Raw product-analytics events to trustworthy warehouse tables.", no_args_is_help=True)
plan_app = typer.Typer(help="The tracking plan (tracking_plan.yml).", no_args_is_help=True)
app.add_typer(plan_app, name="plan")
suites_app = typer.Typer(help="The GX expectation suites (expectations/).", no_args_is_help=True)
app.add_typer(suites_app, name="suites")
WEBHOOK_VARIABLE = "EVENT_ANALYTICS_ALERT_WEBHOOK"
UNMATCHED_SHOWN = 5
console = Console(stderr=True)
SERVING_OPTION = typer.Option(
    "--serving",
    help="Folder of the serving copy BI tools read "
    "($EVENT_ANALYTICS_SERVING_DIR; default serving/ beside the warehouse).",
)
WAIT_OPTION = typer.Option("--wait", help="Seconds to wait for another run holding the warehouse (default: none).")


# Said before the reason when a run fails (exit 1 or 3): the reason stays the last line on stderr.
failure_notes: list[str] = []


def fail(code: int, reason: str) -> typer.Exit:
    """One line on stderr, then the exit code."""
    if code in (project.EXIT_VALIDATION_FAILED, project.EXIT_PIPELINE_ERROR):
        for note in failure_notes:
            typer.echo(note, err=True)
    typer.echo(f"event-analytics: {reason}", err=True)
    return typer.Exit(code)


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder for the daily YYYY-MM-DD.jsonl.gz files.")],
    events: Annotated[int, typer.Option(help="Messages to simulate (duplicates come on top).")] = 100_000,
    users: Annotated[int | None, typer.Option(help="Users; default one per 40 events.")] = None,
    days: Annotated[int, typer.Option(help="Days of traffic.")] = 30,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD (UTC).")] = "2026-10-01",
    seed: Annotated[int, typer.Option(help="Same seed, same bytes.")] = 42,
    faults: Annotated[float, typer.Option(help="Share of messages given a fault (0-1).")] = 0.0,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Do nothing if OUT already holds event files.")] = False,
) -> None:
    """Write deterministic synthetic Segment-spec events."""
    from event_analytics.generate import GenerateOptions, landing_has_event_files
    from event_analytics.generate import generate as write_events

    if if_empty and landing_has_event_files(out):
        console.print(f"{out} already holds event files; not generating.")
        return
    try:
        options = GenerateOptions(
            out=out,
            events=events,
            users=users,
            days=days,
            start=dt.date.fromisoformat(start),
            seed=seed,
            faults=faults,
        )
    except ValueError as exc:
        raise fail(project.EXIT_CONFIG_ERROR, f"--start: {exc}") from exc
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console) as bar:
        tasks: dict[str, int] = {}

        def report(stage: str, fraction: float) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=1.0)
            bar.update(tasks[stage], completed=fraction)

        try:
            files = write_events(options, progress=report)
        except ValueError as exc:
            raise fail(project.EXIT_CONFIG_ERROR, str(exc)) from exc
    console.print(f"wrote {len(files)} files to {out}")


@app.command()
def run(
    landing: Annotated[
        str | None, typer.Option(help="Landing folder or s3://, gs://, az:// URL (default: var landing_path).")
    ] = None,
    warehouse: Annotated[Path | None, typer.Option(help="DuckDB file (default warehouse/events.duckdb).")] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Rebuild everything.")] = False,
    vars: Annotated[str | None, typer.Option("--vars", help="dbt vars: a YAML mapping or file.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show dbt's output.")] = False,
    skip_validation: Annotated[
        bool, typer.Option("--skip-validation", help="Do not run the GX suites after dbt.")
    ] = False,
    unit_tests: Annotated[
        bool, typer.Option("--unit-tests", help="Also run dbt's unit tests (CI does; a scheduled run need not).")
    ] = False,
    dev_key: Annotated[
        bool,
        typer.Option(
            "--dev-key",
            help=f"Without ${PII_KEY_VARIABLE}, use (or create) a local key file beside the warehouse. "
            "For development: a scheduled run must set the variable.",
        ),
    ] = False,
    serving: Annotated[Path | None, SERVING_OPTION] = None,
    wait: Annotated[float, WAIT_OPTION] = 0,
) -> None:
    """Run the pipeline: dbt build, the GX suites, then publish the marts to the serving copy.

    Incremental unless --full-refresh. A run that fails publishes nothing: BI tools keep the last
    good serving copy."""
    from event_analytics.serving import SUITES_OF_LAST_RUN, last_published

    warehouse = warehouse or project.default_warehouse()
    serving_dir = serving or default_serving_dir(warehouse)
    with holding(warehouse, wait):
        failure_notes[:] = [not_published(serving_dir, "this run failed")]
        try:
            built = build_and_audit(
                landing, warehouse, serving_dir, full_refresh, vars, verbose, skip_validation, unit_tests, dev_key
            )
        finally:
            failure_notes.clear()
        if skip_validation:
            say_not_published(serving_dir, "--skip-validation leaves the audit unfinished")
        elif not built and last_published(serving_dir) is None:
            # nothing new, but never published (a warehouse from before the serving copy, say)
            publish_marts(warehouse, serving_dir, suites=SUITES_OF_LAST_RUN)


def default_serving_dir(warehouse: Path) -> Path:
    from event_analytics.serving import default_serving_dir as serving_dir

    return serving_dir(warehouse)


@contextlib.contextmanager
def holding(warehouse: Path, wait: float) -> Iterator[None]:
    """The warehouse's lock for the block; exit 4 with one line when another process holds it."""
    import duckdb

    from event_analytics.locking import Busy, duckdb_lock_conflict, warehouse_lock

    try:
        with warehouse_lock(warehouse, wait):
            yield
    except Busy as exc:
        raise fail(project.EXIT_BUSY, str(exc)) from None
    except duckdb.IOException as exc:
        conflict = duckdb_lock_conflict(str(exc), warehouse)
        if conflict is None:
            raise
        raise fail(project.EXIT_BUSY, conflict) from None


def not_published(serving: Path, why: str) -> str:
    from event_analytics.serving import last_published

    last = last_published(serving)
    since = f"the copy published at {last['published_at']}" if last else "no copy yet"
    return f"not published ({why}): BI tools keep {since} in {serving}"


def say_not_published(serving: Path, why: str) -> None:
    typer.echo(not_published(serving, why), err=True)


def publish_marts(warehouse: Path, serving: Path, suites: str) -> None:
    """Publish, then say so and where the report is; `suites`: the audit's outcome (serving.SUITES_*)."""
    import duckdb
    from filelock import Timeout

    from event_analytics.locking import duckdb_lock_conflict
    from event_analytics.serving import publish

    try:
        published = publish(warehouse, serving, suites)
    except (OSError, RuntimeError, duckdb.Error, Timeout) as exc:
        conflict = duckdb_lock_conflict(str(exc), warehouse)
        if conflict is not None:
            raise fail(project.EXIT_BUSY, conflict) from None
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise fail(project.EXIT_PIPELINE_ERROR, f"publishing to {serving} failed: {reason}") from None
    rows = sum(published.marts.values())
    typer.echo(
        f"published {len(published.marts)} marts ({rows:,} rows) to {serving} at {published.published_at}", err=True
    )
    typer.echo(f"report: {published.report}", err=True)


def build_and_audit(
    landing: str | None,
    warehouse: Path,
    serving: Path,
    full_refresh: bool,
    vars: str | None,
    verbose: bool,
    skip_validation: bool,
    unit_tests: bool,
    dev_key: bool,
) -> bool:
    """dbt build, the GX suites, and the publish when both pass; False when there was nothing to
    do. Exits on failure."""
    from event_analytics.ingest import plan_load
    from event_analytics.locking import duckdb_lock_conflict
    from event_analytics.pipeline import landing_location, parse_vars, run_dbt
    from event_analytics.quality.checks import preload_gx
    from event_analytics.serving import SUITES_PASSED, check_serving_dir
    from event_analytics.state import nothing_to_do, record_success, validated_through

    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        pii_key, key_note = resolve_pii_key(warehouse, allow_local=dev_key)
        if key_note:
        dbt_vars, var_warnings = parse_vars(vars)
        for warning in var_warnings:
            typer.echo(f"warning: {warning}", err=True)
            typer.echo(key_note, err=True)
        settings = project.project_vars(dbt_vars)
        root = landing_location(landing or project.resolve_landing(settings["landing_path"]))
        check_serving_dir(serving, warehouse, root)
        run_state = {**dbt_vars, "landing_path": root}
        plan = plan_load(root, warehouse.resolve(), {**settings, "landing_path": root}, full_refresh=full_refresh)
        report_landing(plan)
        if not plan.files and not plan.rejected and not plan.deferred and not plan.loaded_before:
            raise fail(
                project.EXIT_VALIDATION_FAILED,
                f"no event file in {root} (var landing_patterns), and none loaded before",
            )
        if not full_refresh and nothing_to_do(plan, warehouse, run_state):
            typer.echo(
                "nothing to do: no new landing files, project files or vars since the last successful run", err=True
            )
            print_summary(warehouse, None)
            return False
        changed_since = None if full_refresh else validated_through(warehouse, run_state)
        gx_loading = None if skip_validation else preload_gx()
        result = run_dbt(
            "build",
            landing=root,
            warehouse=warehouse,
            full_refresh=full_refresh,
            dbt_vars=dbt_vars,
            stream=verbose,
            pii_key=pii_key,
            unit_tests=unit_tests,
            plan=plan,
        )
    except ConfigError as exc:
        raise fail(project.EXIT_CONFIG_ERROR, str(exc)) from exc
    if gx_loading is not None:
        gx_loading.join()
    if not result.ok:
        conflict = duckdb_lock_conflict(result.output, warehouse)
        if conflict is not None:
            raise fail(project.EXIT_BUSY, conflict)
        if not verbose:
            console.print(result.output[-4000:], markup=False, highlight=False)
        code = project.EXIT_VALIDATION_FAILED if result.only_tests_failed else project.EXIT_PIPELINE_ERROR
        raise fail(code, result.failure_reason())
    print_summary(warehouse, result)
    since = started.isoformat(sep=" ")
    rejected = rejected_files(warehouse, since)
    if not skip_validation:
        run_validation(
            warehouse,
            changed_since=changed_since,
            dbt_tested=True,
            rejected_files_since=since,
            alert_footer=not_published(serving, "this run failed"),
        )
    if not skip_validation and not rejected:
        # Before the success is recorded: a run whose publish fails is redone, and publishes, next time.
        publish_marts(warehouse, serving, suites=SUITES_PASSED)
    # Recorded once the suites pass (a failing run is redone, and alerts again, next time), also
    # when files were rejected: they are listed, and rejected again, by every run until fixed.
    record_success(warehouse, run_state, validated=not skip_validation)
    if rejected:
        raise fail(
            project.EXIT_VALIDATION_FAILED,
            f"{len(rejected)} landing file(s) rejected: see quarantine.rejected_files and README "
            "(Pointing it at your exports)",
        )
    return True


def report_landing(plan: LoadPlan) -> None:
    """What the listing found besides the files to load, on stderr."""
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
        typer.echo(note, err=True)


def rejected_files(warehouse: Path, since: str) -> list[tuple[str, str, str]]:
    """The landing files rejected by the run that started at `since`, printed as a table."""
    import duckdb

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


def run_validation(
    warehouse: Path,
    data_docs: Path | None = None,
    changed_since: str | None = None,
    dbt_tested: bool = False,
    rejected_files_since: str | None = None,
    alert_footer: str = "",
) -> None:
    """Run the suites, print the outcome; exit 1 listing the failures. With `changed_since`, rows
    built before it are left out of row-by-row expectations (checks.scoped_to_changed_rows); with
    `dbt_tested`, expectations repeating the dbt tests just run are left out (checks.without_dbt_tested)."""
    import os

    from event_analytics.quality.checks import validate_warehouse

    try:
        report = validate_warehouse(
            warehouse,
            data_docs=data_docs or warehouse.parent / "data_docs",
            webhook=os.environ.get(WEBHOOK_VARIABLE) or None,
            changed_since=changed_since,
            dbt_tested=dbt_tested,
            rejected_files_since=rejected_files_since,
            alert_footer=alert_footer,
        )
    except ConfigError as exc:
        raise fail(project.EXIT_CONFIG_ERROR, str(exc)) from exc
    except Exception as exc:  # GX or the warehouse failing is the pipeline's failure, not the data's
        from event_analytics.locking import duckdb_lock_conflict

        conflict = duckdb_lock_conflict(str(exc), warehouse)
        if conflict is not None:
            raise fail(project.EXIT_BUSY, conflict) from None
        raise fail(project.EXIT_PIPELINE_ERROR, f"validation could not run: {type(exc).__name__}: {exc}") from exc
    summary = (
        f"{report.suites} suites, {report.expectations} expectations, {len(report.failures)} failed "
        f"in {report.seconds:.1f} s; Data Docs: {report.data_docs}"
    )
    if changed_since:
        summary += f"; row-by-row checks on rows built after {changed_since}"
    if dbt_tested:
        summary += "; dbt's tests not repeated"
    if report.success:
        typer.echo(f"validation passed: {summary}", err=True)
        return
    table = Table(title="failed expectations (offending values masked)")
    for column in ("relation", "column", "expectation", "detail", "examples"):
        table.add_column(column, overflow="fold")
    for failure in report.failures:
        table.add_row(
            failure.relation, failure.column or "", failure.expectation, failure.detail, ", ".join(failure.examples)
        )
    console.print(table)
    raise fail(project.EXIT_VALIDATION_FAILED, f"validation failed: {summary}")


@app.command()
def validate(
    warehouse: Annotated[Path | None, typer.Option(help="DuckDB file (default warehouse/events.duckdb).")] = None,
    data_docs: Annotated[
        Path | None, typer.Option(help="Data Docs folder (default data_docs beside the warehouse).")
    ] = None,
    wait: Annotated[float, WAIT_OPTION] = 0,
) -> None:
    """Run the GX suites against the warehouse; alert $EVENT_ANALYTICS_ALERT_WEBHOOK on failure."""
    warehouse = warehouse or project.default_warehouse()
    with holding(warehouse, wait):
        run_validation(warehouse, data_docs)


@app.command()
def publish(
    warehouse: Annotated[Path | None, typer.Option(help="DuckDB file (default warehouse/events.duckdb).")] = None,
    serving: Annotated[Path | None, SERVING_OPTION] = None,
    wait: Annotated[float, WAIT_OPTION] = 0,
) -> None:
    """Publish the working warehouse's marts to the serving copy, as a passing run does (after a
    person has reviewed a failed audit, say)."""
    warehouse = warehouse or project.default_warehouse()
    if not warehouse.exists():
        raise fail(project.EXIT_CONFIG_ERROR, f"warehouse {warehouse} does not exist: run first")
    from event_analytics.serving import SUITES_NOT_RUN, check_serving_dir

    serving = serving or default_serving_dir(warehouse)
    try:
        check_serving_dir(serving, warehouse)
    except ConfigError as exc:
        raise fail(project.EXIT_CONFIG_ERROR, str(exc)) from exc
    with holding(warehouse, wait):
        publish_marts(warehouse, serving, suites=SUITES_NOT_RUN)


@app.command()
def report(
    serving: Annotated[Path | None, SERVING_OPTION] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="HTML file to write (default: report.html in the serving folder).")
    ] = None,
) -> None:
    """Write the serving copy's report: one self-contained HTML file (no network), as every publish does."""
    import duckdb
    from filelock import FileLock, Timeout

    from event_analytics.report import NoServingCopy, write_report
    from event_analytics.serving import LOCK_NAME, MANIFEST, PUBLISH_WAIT_SECONDS, REPORT

    serving = serving or default_serving_dir(project.default_warehouse())
    out = out or serving / REPORT
    # Into the serving folder: after any publish under way, which writes the same file.
    into_serving = (serving / MANIFEST).is_file() and out.resolve().parent == serving.resolve()
    lock = FileLock(str(serving / LOCK_NAME), timeout=PUBLISH_WAIT_SECONDS) if into_serving else None
    try:
        with lock or contextlib.nullcontext():
            path = write_report(serving, out)
    except NoServingCopy as exc:
        raise fail(project.EXIT_CONFIG_ERROR, str(exc)) from None
    except (OSError, duckdb.Error, Timeout) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise fail(project.EXIT_PIPELINE_ERROR, f"writing the report of {serving} failed: {reason}") from None
    typer.echo(f"wrote {path}")


def print_summary(warehouse: Path, result: RunResult | None) -> None:
    from event_analytics.summary import warehouse_counts

    counts = warehouse_counts(warehouse)
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


@app.command()
def bench(
    events: Annotated[list[int] | None, typer.Option(help="Sizes to run (repeatable).")] = None,
    days: Annotated[int, typer.Option(help="Days of traffic per size.")] = 30,
    repeat: Annotated[int, typer.Option(help="Runs of each short measurement (median kept).")] = 3,
) -> None:
    """Benchmark full, incremental and no-op runs against a hand-written DuckDB baseline."""
    import json

    from event_analytics.bench import run_benchmark

    root = project.project_dir()
    path = run_benchmark(
        events or [1_000_000, 10_000_000], days, repeat, root / "bench" / "cache", root / "bench" / "results"
    )
    report = json.loads(path.read_text())
    table = Table(title=f"benchmark ({report['machine']['cores']} cores) -> {path}")
    for column in ("events", "run", "wall s", "dbt s", "gx s", "cpu s", "peak MB", "x baseline"):
        table.add_column(column, justify="right")
    for size in report["sizes"]:
        for run_name in ("baseline", "full_build", "incremental_one_day", "noop"):
            m = size[run_name]
            table.add_row(
                f"{size['events']:,}",
                run_name,
                f"{m['wall_seconds']:.1f}",
                f"{m.get('stage_seconds', {}).get('dbt', 0):.1f}",
                f"{m.get('stage_seconds', {}).get('gx', 0):.1f}",
                f"{m['cpu_seconds']:.1f}",
                f"{m['peak_rss_mb']:.0f}",
                f"{m.get('ratio_to_baseline', 1.0):.2f}",
            )
    Console().print(table)


@plan_app.command("check")
def plan_check(
    path: Annotated[Path | None, typer.Option(help="Plan file (default tracking_plan.yml).")] = None,
    against: Annotated[
        str | None, typer.Option("--against", help="Git revision to check breaking changes against.")
    ] = None,
) -> None:
    """Lint the tracking plan and check dbt's copy is current; exit 1 listing every problem."""
    from event_analytics.plan import Problem, lint, macro_is_current, macro_path, plan_at_revision, read_plan

    try:
        plan = read_plan(path)
        previous = plan_at_revision(against, path) if against else None
    except ConfigError as exc:
        raise fail(project.EXIT_CONFIG_ERROR, str(exc)) from exc
    problems = lint(plan, previous)
    if path is None and not macro_is_current(plan):
        problems.append(Problem(str(macro_path()), "out of date: run `event-analytics plan compile`"))
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        raise fail(project.EXIT_VALIDATION_FAILED, f"{len(problems)} problem(s) in the tracking plan")
    typer.echo(f"tracking plan: {len(plan['events'])} events, no problems")


@plan_app.command("docs")
def plan_docs(
    out: Annotated[Path, typer.Option(help="File to write (.md or .html).")] = Path("docs/tracking_plan.md"),
    warehouse: Annotated[
        Path | None, typer.Option(help="DuckDB file to count from (default warehouse/events.duckdb).")
    ] = None,
    format: Annotated[str | None, typer.Option(help="markdown or html (default: from --out's suffix).")] = None,
) -> None:
    """Write a readable catalogue of the plan, with each event's volume and violation count."""
    from event_analytics.catalogue import FORMATS, write_catalogue
    from event_analytics.plan import read_plan

    fmt = format or ("html" if out.suffix.lower() in {".html", ".htm"} else "markdown")
    if fmt not in FORMATS:
        raise fail(project.EXIT_CONFIG_ERROR, f"--format must be one of {', '.join(FORMATS)}")
    try:
        path = write_catalogue(read_plan(), warehouse or project.default_warehouse(), out, fmt)
    except ConfigError as exc:
        raise fail(project.EXIT_CONFIG_ERROR, str(exc)) from exc
    typer.echo(f"wrote {path}")


@suites_app.command("generate")
def suites_generate(
    check: Annotated[bool, typer.Option("--check", help="Only check expectations/ is current; exit 1 if not.")] = False,
) -> None:
    """Write the schema suites (expectations/schema.*.json) from the models' YAML and the plan."""
    from event_analytics.quality.suites import stale_suite_files, write_schema_suites

    try:
        if check:
            stale = stale_suite_files()
            for path in stale:
                typer.echo(f"{path}: out of date: run `event-analytics suites generate`", err=True)
            if stale:
                raise fail(project.EXIT_VALIDATION_FAILED, f"{len(stale)} suite file(s) out of date")
            typer.echo("expectations/: schema suites are current")
            return
        paths = write_schema_suites()
    except ConfigError as exc:
        raise fail(project.EXIT_CONFIG_ERROR, str(exc)) from exc
    typer.echo(f"wrote {len(paths)} schema suites to {paths[0].parent if paths else 'expectations/'}")


@plan_app.command("compile")
def plan_compile() -> None:
    """Write macros/tracking_plan.sql, dbt's copy of the plan (after linting it)."""
    from event_analytics.plan import lint, read_plan, write_macro

    try:
        plan = read_plan()
    except ConfigError as exc:
        raise fail(project.EXIT_CONFIG_ERROR, str(exc)) from exc
    problems = lint(plan)
    if problems:
        for problem in problems:
            typer.echo(str(problem), err=True)
        raise fail(project.EXIT_VALIDATION_FAILED, "fix the tracking plan before compiling it")
    typer.echo(f"wrote {write_macro(plan)}")
