"""`event-analytics run` on a Spark target (profiles/profiles.yml, `type: spark`).

The same models build on Spark (README, "Moving to a cluster"), but the run around them is
smaller than on DuckDB, whose state, audit and publish steps read the DuckDB file:

- every run rebuilds from every landing file (a full refresh): incremental loading on Spark's file
  tables is not built yet, and a full refresh is what an incremental run must equal;
- the audit is dbt's data tests and source freshness, with the same alerts and exit codes (0, 1 for
  a failed test, 2 for configuration, 3 for a failed model); the GX suites, the serving copy and
  the HTML report are not run on Spark yet, and the run says so.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from event_analytics import project
from event_analytics.alerts import Problem
from event_analytics.project import ConfigError

NOT_YET = "on Spark, the GX suites, the serving copy and the report are not run yet (README, Moving to a cluster)"


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
    from event_analytics.job import Audit, Stop, alert_and_record, console, dbt_build, report_landing, show_problems
    from event_analytics.locking import Busy, warehouse_lock
    from event_analytics.pipeline import landing_location, parse_vars, spark_dir
    from event_analytics.quality.rates import freshness_problems
    from event_analytics.secrets import resolve_pii_key

    warehouse: Path = options.warehouse
    try:
        check_spark_installed()
        dbt_vars, var_warnings = parse_vars(options.vars)
        pii_key, key_note = resolve_pii_key(warehouse, allow_local=options.dev_key)
        settings = project.project_vars(dbt_vars)
        root = landing_location(options.landing or project.resolve_landing(settings["landing_path"]))
    except ConfigError as exc:
        raise Stop(project.EXIT_CONFIG_ERROR, str(exc)) from exc
    for warning in var_warnings:
        record.warnings.append(warning)
        progress.warning(warning)
    if key_note:
        console.print(key_note, markup=False, highlight=False)

    progress.stage_start("plan", root)
    try:
        plan = plan_load(root, warehouse.resolve(), {**settings, "landing_path": root}, full_refresh=True)
    except ConfigError as exc:
        raise Stop(project.EXIT_CONFIG_ERROR, str(exc)) from exc
    report_landing(plan)
    record.files_loaded = len(plan.files)
    record.seconds["plan"] = round(progress.stage_end("plan", files=len(plan.files)), 3)
    if not plan.files and not plan.rejected:
        raise Stop(project.EXIT_VALIDATION_FAILED, f"no event file in {root} (var landing_patterns)")

    progress.stage_start("dbt", f"{len(plan.files)} file(s), rebuilt whole on Spark")
    # One run per Spark folder (its Derby metastore, its staged lines), whichever warehouse names it.
    try:
        with warehouse_lock(spark_dir(warehouse)):
            result = dbt_build(options, progress, plan, root, dbt_vars, pii_key, full_refresh=True)
    except Busy as exc:
        raise Stop(project.EXIT_BUSY, str(exc)) from None
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
    record.gx = "skipped"
    console.print(NOT_YET, markup=False, highlight=False)
    show_problems(audit.problems)
    exit_code = project.EXIT_VALIDATION_FAILED if audit.errors else 0
    alert_and_record(options, record, audit, exit_code=exit_code)
    if audit.errors:
        first = audit.errors[0]
        more = f" (and {len(audit.errors) - 1} more)" if len(audit.errors) > 1 else ""
        raise Stop(project.EXIT_VALIDATION_FAILED, f"{first}{more}")
    record.warnings.extend(str(problem) for problem in audit.warnings)
