"""The `event-analytics` command: a thin layer over generate, pipeline and summary."""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from event_analytics import project
from event_analytics.project import ConfigError
from event_analytics.secrets import PII_KEY_VARIABLE

app = typer.Typer(help="Raw product-analytics events to trustworthy warehouse tables.", no_args_is_help=True)
plan_app = typer.Typer(help="The tracking plan (tracking_plan.yml).", no_args_is_help=True)
app.add_typer(plan_app, name="plan")
suites_app = typer.Typer(help="The GX expectation suites (expectations/).", no_args_is_help=True)
app.add_typer(suites_app, name="suites")
vars_app = typer.Typer(help="The pipeline's vars (dbt_project.yml, checked by config.py).", no_args_is_help=True)
app.add_typer(vars_app, name="vars")
console = Console(stderr=True)
SERVING_OPTION = typer.Option(
    "--serving",
    help="Folder of the serving copy BI tools read "
    "($EVENT_ANALYTICS_SERVING_DIR; default serving/ beside the warehouse).",
    envvar="EVENT_ANALYTICS_SERVING_DIR",
)
WAIT_OPTION = typer.Option(
    "--wait",
    help="Seconds to wait for another run holding the warehouse (default: none).",
    envvar="EVENT_ANALYTICS_WAIT",
)
WAREHOUSE_OPTION = typer.Option(
    help="DuckDB file (default warehouse/events.duckdb).", envvar="EVENT_ANALYTICS_WAREHOUSE"
)
TARGET_OPTION = typer.Option(
    "--target", help="The dbt profile target (profiles/profiles.yml; default duckdb).", envvar="EVENT_ANALYTICS_TARGET"
)


class LogFormat(enum.StrEnum):
    text = "text"
    json = "json"


def fail(code: int, reason: str) -> typer.Exit:
    """One line on stderr, then the exit code."""
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
        str | None,
        typer.Option(
            help="Landing folder or s3://, gs://, az:// URL (default: var landing_path).",
            envvar="EVENT_ANALYTICS_LANDING",
        ),
    ] = None,
    warehouse: Annotated[Path | None, WAREHOUSE_OPTION] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild everything.", envvar="EVENT_ANALYTICS_FULL_REFRESH")
    ] = False,
    vars: Annotated[
        str | None, typer.Option("--vars", help="dbt vars: a YAML mapping or file.", envvar="EVENT_ANALYTICS_VARS")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Show dbt's output.", envvar="EVENT_ANALYTICS_VERBOSE")
    ] = False,
    skip_validation: Annotated[
        bool,
        typer.Option(
            "--skip-validation", help="Do not run the GX suites after dbt.", envvar="EVENT_ANALYTICS_SKIP_VALIDATION"
        ),
    ] = False,
    unit_tests: Annotated[
        bool,
        typer.Option(
            "--unit-tests",
            help="Also run dbt's unit tests (CI does; a scheduled run need not).",
            envvar="EVENT_ANALYTICS_UNIT_TESTS",
        ),
    ] = False,
    dev_key: Annotated[
        bool,
        typer.Option(
            "--dev-key",
            help=f"Without ${PII_KEY_VARIABLE}, use (or create) a local key file beside the warehouse. "
            "For development: a scheduled run must set the variable.",
            envvar="EVENT_ANALYTICS_DEV_KEY",
        ),
    ] = False,
    serving: Annotated[Path | None, SERVING_OPTION] = None,
    wait: Annotated[float, WAIT_OPTION] = 0,
    accept_partial_settings: Annotated[
        bool,
        typer.Option(
            "--accept-partial-settings",
            help="Run although the tracking plan mode, the plan or the PII key changed since rows were loaded: "
            "the change reaches new rows only (the summary says so).",
            envvar="EVENT_ANALYTICS_ACCEPT_PARTIAL_SETTINGS",
        ),
    ] = False,
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--log-format",
            help="text: progress for a person; json: one JSON object per event on stdout.",
            envvar="EVENT_ANALYTICS_LOG_FORMAT",
        ),
    ] = LogFormat.text,
    target: Annotated[str | None, TARGET_OPTION] = None,
) -> None:
    """Run the pipeline: dbt build, the audit (dbt's tests, GX suites, quarantine rate, freshness),
    then publish the marts to the serving copy and alert once per problem.

    Incremental unless --full-refresh. A run that finds an error publishes nothing (exit 1): BI
    tools keep the last good serving copy; warnings alone publish (exit 0)."""
    from event_analytics.job import RunOptions, Stop, run_job

    warehouse = warehouse or project.default_warehouse()
    options = RunOptions(
        warehouse=warehouse,
        serving=serving or default_serving_dir(warehouse),
        landing=landing,
        full_refresh=full_refresh,
        vars=vars,
        verbose=verbose,
        skip_validation=skip_validation,
        unit_tests=unit_tests,
        dev_key=dev_key,
        accept_partial_settings=accept_partial_settings,
        log_format=log_format.value,
        target=target,
    )
    with holding(warehouse, wait, command="run"):
        try:
            run_job(options)
        except Stop as stop:
            raise fail(stop.code, stop.reason) from None


def default_serving_dir(warehouse: Path) -> Path:
    from event_analytics.serving import default_serving_dir as serving_dir

    return serving_dir(warehouse)


@contextlib.contextmanager
def holding(warehouse: Path, wait: float, command: str | None = None) -> Iterator[None]:
    """The warehouse's lock for the block; exit 4 with one line when another process holds it
    (for `command` run, also a line in runs.jsonl: a scheduler reads skipped runs there too)."""
    import duckdb

    from event_analytics.locking import Busy, duckdb_lock_conflict, warehouse_lock

    # before the lock, the key or any record is written beside it
    if warehouse.exists() and not warehouse.is_file():
        raise fail(project.EXIT_CONFIG_ERROR, f"warehouse {warehouse} is a folder, not a DuckDB file")
    # the nearest folder that exists: the run creates the rest below it
    existing = next(folder for folder in (warehouse.parent, *warehouse.parent.parents) if folder.exists())
    if not existing.is_dir():
        raise fail(project.EXIT_CONFIG_ERROR, f"warehouse {warehouse}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise fail(project.EXIT_CONFIG_ERROR, f"warehouse {warehouse}: {existing} is not writable")
    if warehouse.is_file() and not os.access(warehouse, os.R_OK | os.W_OK):
        raise fail(project.EXIT_CONFIG_ERROR, f"warehouse {warehouse} is not writable")
    try:
        with warehouse_lock(warehouse, wait):
            yield
    except Busy as exc:
        record_busy(warehouse, command, str(exc))
        raise fail(project.EXIT_BUSY, str(exc)) from None
    except duckdb.IOException as exc:
        conflict = duckdb_lock_conflict(str(exc), warehouse)
        if conflict is None:
            raise
        record_busy(warehouse, command, conflict)
        raise fail(project.EXIT_BUSY, conflict) from None


def record_busy(warehouse: Path, command: str | None, reason: str) -> None:
    from event_analytics.runlog import RunRecord, new_run_id, runs_path

    if command is None:
        return
    now = dt.datetime.now(dt.UTC)
    record = RunRecord(new_run_id(now), str(warehouse), now.isoformat(timespec="milliseconds"), command=command)
    record.finish(project.EXIT_BUSY, reason)
    record.append_to(runs_path(warehouse))


@app.command()
def validate(
    warehouse: Annotated[Path | None, WAREHOUSE_OPTION] = None,
    data_docs: Annotated[
        Path | None,
        typer.Option(
            help="Data Docs folder (default data_docs beside the warehouse).", envvar="EVENT_ANALYTICS_DATA_DOCS"
        ),
    ] = None,
    wait: Annotated[float, WAIT_OPTION] = 0,
) -> None:
    """Run the GX suites against the warehouse; alert $EVENT_ANALYTICS_ALERT_WEBHOOK once per problem."""
    from event_analytics.job import Stop, validate_only

    warehouse = warehouse or project.default_warehouse()
    with holding(warehouse, wait):
        try:
            validate_only(warehouse, data_docs)
        except Stop as stop:
            raise fail(stop.code, stop.reason) from None


@app.command()
def publish(
    warehouse: Annotated[Path | None, WAREHOUSE_OPTION] = None,
    serving: Annotated[Path | None, SERVING_OPTION] = None,
    wait: Annotated[float, WAIT_OPTION] = 0,
) -> None:
    """Publish the working warehouse's marts to the serving copy, as a passing run does (after a
    person has reviewed a failed audit, say)."""
    from event_analytics.job import Stop, publish_reviewed
    from event_analytics.serving import check_serving_dir

    warehouse = warehouse or project.default_warehouse()
    if not warehouse.exists():
        raise fail(project.EXIT_CONFIG_ERROR, f"warehouse {warehouse} does not exist: run first")
    serving = serving or default_serving_dir(warehouse)
    try:
        check_serving_dir(serving, warehouse)
    except ConfigError as exc:
        raise fail(project.EXIT_CONFIG_ERROR, str(exc)) from exc
    with holding(warehouse, wait):
        try:
            publish_reviewed(warehouse, serving)
        except Stop as stop:
            raise fail(stop.code, stop.reason) from None


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


@app.command()
def bench(
    events: Annotated[list[int] | None, typer.Option(help="Sizes to run (repeatable).")] = None,
    days: Annotated[int, typer.Option(help="Days of traffic per size.")] = 30,
    repeat: Annotated[int, typer.Option(help="Runs of each short measurement (median kept).")] = 3,
    target: Annotated[
        str | None, typer.Option(help="A Spark target of profiles/profiles.yml: its full build only.")
    ] = None,
) -> None:
    """Benchmark full, incremental and no-op runs against a hand-written DuckDB baseline."""
    import json

    from event_analytics.bench import run_benchmark
    from event_analytics.spark_job import target_type

    if target is not None:
        try:
            engine = target_type(target)
        except ConfigError as exc:
            raise typer.BadParameter(str(exc)) from None
        if engine != "spark":
            raise typer.BadParameter(f"{target} is not a Spark target; without --target the bench runs DuckDB")
    root = project.project_dir()
    path = run_benchmark(
        events or [1_000_000, 10_000_000], days, repeat, root / "bench" / "cache", root / "bench" / "results", target
    )
    report = json.loads(path.read_text())
    if target is not None:
        for size in report["sizes"]:
            m = size["full_build"]
            console.print(
                f"{size['events']:,} events on {target}: full build {m['wall_seconds']:.1f} s, "
                f"{m['cpu_seconds']:.1f} CPU s, peak {m['peak_rss_mb']:.0f} MB -> {path}"
            )
        return
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


@app.command()
def parity(
    landing: Annotated[
        str | None,
        typer.Option(
            help="Build first: run the pipeline on DuckDB, then on Spark (--skip-validation), over this landing "
            "folder or URL, into --workdir (incremental unless --full-refresh)."
        ),
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option(
            help="Both engines' warehouses: duckdb/events.duckdb, spark/events.duckdb with the Spark folder "
            "spark/spark/ (default warehouse/parity)."
        ),
    ] = None,
    duckdb: Annotated[
        Path | None, typer.Option("--duckdb", help="DuckDB warehouse file to compare (default: the work folder's).")
    ] = None,
    spark: Annotated[
        Path | None,
        typer.Option(
            "--spark",
            help="Spark folder to compare: spark/ beside the Spark run's --warehouse (default: the work folder's).",
        ),
    ] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="With --landing: rebuild both.")] = False,
    examples: Annotated[int, typer.Option(help="Rows only on one side shown per relation and side.")] = 3,
) -> None:
    """Compare what DuckDB and Spark built, row for row: every relation of marts, quarantine and staging,
    and meta.landing_files (floats to 1e-9, JSON as parsed values, timestamps as UTC instants, run-time
    columns left out). Exit 0 when all are equal, 1 otherwise."""
    from rich.markup import escape

    from event_analytics import parity as engines

    work = engines.Workdir(workdir or project.project_dir() / "warehouse" / "parity")
    duckdb_file, spark_dir = duckdb or work.duckdb_warehouse, spark or work.spark_dir
    if landing is None and not duckdb_file.is_file():
        raise fail(project.EXIT_CONFIG_ERROR, f"DuckDB warehouse {duckdb_file} does not exist: build first (--landing)")
    if landing is None and not (spark_dir / "metastore_db").is_dir():
        raise fail(project.EXIT_CONFIG_ERROR, f"Spark folder {spark_dir} holds no metastore: build first (--landing)")
    try:
        if landing is not None:
            result = engines.build_and_compare(landing, work, full_refresh=full_refresh, examples=examples)
        else:
            result = engines.compare_warehouses(duckdb_file, spark_dir, examples=examples)
    except engines.ParityError as exc:
        raise fail(project.EXIT_PIPELINE_ERROR, str(exc)) from None
    out = Console()
    if not out.is_terminal:
        out = Console(width=160)
    table = Table(title=f"parity: {duckdb_file} / {spark_dir}")
    for column in ("relation", "status", "duckdb rows", "spark rows", "only in duckdb", "only in spark", "notes"):
        table.add_column(column, justify="right" if "rows" in column or "only" in column else "left")
    for relation in result.relations:
        notes = [f"no {c} in spark" for c in relation.columns_only_in_duckdb]
        notes += [f"no {c} in duckdb" for c in relation.columns_only_in_spark]
        notes += [relation.error] if relation.error else []
        table.add_row(
            relation.relation,
            f"[{'green' if relation.equal else 'red'}]{relation.status}[/]",
            "" if relation.duckdb_rows is None else f"{relation.duckdb_rows:,}",
            "" if relation.spark_rows is None else f"{relation.spark_rows:,}",
            f"{relation.only_in_duckdb:,}" if relation.status == engines.DIFFERS else "",
            f"{relation.only_in_spark:,}" if relation.status == engines.DIFFERS else "",
            escape("; ".join(notes)),
        )
    out.print(table)
    for line in [run.summary() for run in result.runs] + [result.examples(), result.headline()]:
        if line:
            out.print(line, markup=False, highlight=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(project.EXIT_VALIDATION_FAILED)


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


@vars_app.command("docs")
def vars_docs(
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if README's table of vars is stale.")] = False,
) -> None:
    """Write README's table of vars (between <!-- vars:start --> and <!-- vars:end -->) from the schema."""
    from event_analytics.config import README_MARKERS, readme_with_vars_table

    readme = project.project_dir() / "README.md"
    text = readme.read_text()
    try:
        updated = readme_with_vars_table(text)
    except ValueError as exc:
        raise fail(project.EXIT_CONFIG_ERROR, str(exc)) from None
    if check:
        if updated != text:
            raise fail(1, f"README.md's table of vars is stale: run `event-analytics vars docs` ({README_MARKERS[0]})")
        return
    readme.write_text(updated)
    typer.echo(f"wrote the table of vars to {readme}")


def main() -> None:
    """The console script: a crash inside a command is a pipeline error (exit 3) in one line after
    its traceback, never exit 1, which a scheduler reads as "the data failed its checks"."""
    import signal
    import sys
    import traceback

    def stop(signum: int, _frame: object) -> None:
        # raised in the main thread wherever it is: the dbt process is stopped on the way out
        # (pipeline.run_dbt) and the run's line is written to runs.jsonl (job.run_job)
        raise project.Terminated(f"stopped by {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, stop)
    try:
        app()
    except SystemExit:
        raise
    except project.Terminated as exc:
        print(f"event-analytics: {exc}", file=sys.stderr)
        sys.exit(project.EXIT_PIPELINE_ERROR)
    except Exception as exc:  # noqa: BLE001 (the last resort: every known failure has its own code)
        traceback.print_exc()
        print(f"event-analytics: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(project.EXIT_PIPELINE_ERROR)
