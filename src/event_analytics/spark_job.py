"""`event-analytics run` on a Spark target (profiles/profiles.yml, `type: spark`).

The same models build on Spark (README, "Moving to a cluster"), but the run around them is
smaller than on DuckDB, whose state, audit and publish steps read the DuckDB file:

- a run loads the landing files its ledger (spark_state) does not hold, and the incremental models
  replace their tables' changed rows (macros/adapters/deletes.sql); `--full-refresh` rebuilds all;
- the loaded rows' settings (tracking plan, its mode, the PII key) are kept in the Spark folder: a
  change needs --full-refresh, or --accept-partial-settings to apply it to new rows only;
- the audit is dbt's data tests, source freshness and the GX suites (spark_validate.py: the same
  suites through GX's Spark datasource), with the same alerts and exit codes (0, 1 for a failed
  test or expectation, 2 for configuration, 3 for a failed model or a validation that could not
  run);
- a run that passes its audit publishes the marts to the serving copy with its report, written
  from Spark (spark_publish.py), as a DuckDB run does; one that fails publishes nothing.

The Spark folder's lock is held from the build to the publish: a second run exits 4 at once.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from event_analytics import project, spark_state
from event_analytics.alerts import Problem
from event_analytics.project import ConfigError


def target_type(target: str | None) -> str:
    """The adapter type of a profiles.yml target (its default target when None)."""
    profiles = yaml.safe_load((project.project_dir() / "profiles" / "profiles.yml").read_text())
    profile = profiles["event_analytics"]
    name = target or profile["target"]
    try:
        return str(profile["outputs"][name]["type"])
    except KeyError:
        known = ", ".join(profile["outputs"])
        raise ConfigError(f"no target {name!r} in profiles/profiles.yml (targets: {known})") from None


def check_spark_installed() -> None:
    """The session target runs Spark in this Python: it needs the extra and a Java runtime."""
    if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("dbt.adapters.spark") is None:
        raise ConfigError(
            "the spark target needs the extra spark: pip install '.[spark]' "
            "(make test-spark installs it into .venv-spark)"
        )
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home) / "bin" / "java" if java_home else shutil.which("java")
    if java is None or not os.access(java, os.X_OK):
        where = f"JAVA_HOME={java_home} has no bin/java" if java_home else "java is not on PATH"
        raise ConfigError(f"Spark needs a Java 17 runtime: {where} (make java installs one)")


def run(options: Any, record: Any, progress: Any) -> None:
    """job._run for a Spark target; raises job.Stop for an exit other than 0."""
    from event_analytics.ingest import plan_load
    from event_analytics.job import Stop, console, dbt_build, report_landing
    from event_analytics.locking import Busy, warehouse_lock
    from event_analytics.pipeline import landing_location, parse_vars, spark_dir
    from event_analytics.plan import compile_plan, read_plan
    from event_analytics.secrets import resolve_pii_key
    from event_analytics.serving import check_serving_dir
    from event_analytics.state import load_settings

    warehouse: Path = options.warehouse
    try:
        check_spark_installed()
        dbt_vars, var_warnings = parse_vars(options.vars)
        pii_key, key_note = resolve_pii_key(warehouse, allow_local=options.dev_key)
        settings = project.project_vars(dbt_vars)
        root = landing_location(options.landing or project.resolve_landing(settings["landing_path"]))
        check_serving_dir(options.serving, warehouse, root)
    except ConfigError as exc:
        raise Stop(project.EXIT_CONFIG_ERROR, str(exc)) from exc
    for warning in var_warnings:
        record.warnings.append(warning)
        progress.warning(warning)
    if key_note:
        console.print(key_note, markup=False, highlight=False)

    folder = spark_dir(warehouse).resolve()
    full_refresh = bool(options.full_refresh)
    try:
        staging_lost = (
            not full_refresh
            and spark_state.ledger(folder) is not None
            and not spark_state.committed(spark_state.staging_table(folder))
        )
    except ConfigError as exc:
        raise Stop(project.EXIT_CONFIG_ERROR, str(exc)) from exc
    if staging_lost:
        # A run stopped while replacing staging's table (deletes.sql): the landing files rebuild it.
        full_refresh = True
        record.warnings.append("staging's table is missing from the Spark folder: rebuilding everything")
        progress.warning(record.warnings[-1])
    progress.stage_start("plan", root)
    try:
        plan = plan_load(
            root,
            folder,
            {**settings, "landing_path": root},
            full_refresh=full_refresh,
            read_ledger=spark_state.ledger,
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

    current = {
        **load_settings(dbt_vars, compile_plan(read_plan()), pii_key),
        "spark_file_format": str(settings["spark_file_format"]),
    }
    try:
        changed = [] if full_refresh else spark_state.settings_drift(folder, current)
    except ConfigError as exc:
        raise Stop(project.EXIT_CONFIG_ERROR, str(exc)) from exc
    formats = [line for line in changed if line.startswith(spark_state.FORMAT_DRIFT)]
    if formats:
        # the stored tables cannot take another format's statements: only a rebuild changes it
        raise Stop(project.EXIT_CONFIG_ERROR, f"{formats[0]}: rerun with --full-refresh to rebuild them as such")
    if changed and not options.accept_partial_settings:
        raise Stop(
            project.EXIT_CONFIG_ERROR,
            f"settings changed since rows were loaded: {'; '.join(changed)}: rerun with --full-refresh to reload "
            "everything with them, or --accept-partial-settings to apply them to new rows only",
        )
    for line in changed:
        record.warnings.append(f"partial settings: {line}")
        progress.warning(record.warnings[-1])

    how = "rebuilt whole" if full_refresh else "incremental"
    progress.stage_start("dbt", f"{len(plan.files)} new file(s), {how} on Spark")
    # One run per Spark folder (its Derby metastore, its staged lines), whichever warehouse names it,
    # from the build to the publish.
    try:
        with warehouse_lock(folder):
            for table in spark_state.remove_uncommitted_tables(folder):
                record.warnings.append(f"removed the folder of {table}, left by a stopped run before it committed")
                progress.warning(record.warnings[-1])
            result = dbt_build(options, progress, plan, root, dbt_vars, pii_key, full_refresh=full_refresh)
            if result.ok or result.only_tests_failed:
                spark_state.record_settings(folder, current)
            audit_and_publish(options, record, progress, settings, folder, result)
    except Busy as exc:
        raise Stop(project.EXIT_BUSY, str(exc)) from None


def audit_and_publish(
    options: Any, record: Any, progress: Any, settings: dict[str, Any], folder: Path, result: Any
) -> None:
    """After dbt's build on Spark: its tests, freshness and the GX suites, then the publish."""
    from event_analytics import spark_validate
    from event_analytics.job import Audit, Stop, alert_and_record, console, finish
    from event_analytics.quality.rates import freshness_problems
    from event_analytics.serving import SUITES_PASSED
    from event_analytics.spark_publish import publish_spark

    record.seconds["dbt"] = round(progress.stage_end("dbt", "ok" if result.ok else "failed"), 3)
    audit = Audit(checked={"dbt"})
    if not result.ok and not result.only_tests_failed:
        record.dbt = "error"
        if not options.verbose:
            console.print(result.output[-4000:], markup=False, highlight=False)
        audit.problems.append(Problem("pipeline", "dbt build", None, "model_error", "error", result.failure_reason()))
        alert_and_record(options, record, audit, exit_code=project.EXIT_PIPELINE_ERROR)
        raise Stop(project.EXIT_PIPELINE_ERROR, result.failure_reason())
    record.dbt = "success" if result.ok else "tests_failed"
    for node in result.nodes:
        if node.resource_type == "test" and node.status in {"fail", "warn"}:
            severity = "error" if node.status == "fail" else "warn"
            detail = " ".join((node.message or node.status).split())
            audit.problems.append(Problem(f"dbt:{node.name}", "dbt test", None, node.name, severity, detail))
    if result.ok and result.target_path is not None:
        audit.checked.add("freshness")
        audit.problems.extend(freshness_problems(result.target_path))
    if not audit.errors and not options.skip_validation:
        spark_validate.validate_run(options, record, progress, audit, settings)
    elif options.skip_validation:
        record.gx = "skipped"
    manifest = result.target_path / "manifest.json"
    finish(
        options, record, progress, audit, None, lambda: publish_spark(folder, options.serving, manifest, SUITES_PASSED)
    )
