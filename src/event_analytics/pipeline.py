"""Run the dbt pipeline against a DuckDB warehouse and report what it did."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from event_analytics.config import check_vars
from event_analytics.dbt_worker import EVENT_PREFIX
from event_analytics.ingest import PLAN_VARIABLE, LoadPlan, plan_load
from event_analytics.landing import is_url
from event_analytics.plan import compile_plan, read_plan
from event_analytics.project import ConfigError, project_dir, project_vars
from event_analytics.secrets import PII_KEY_VARIABLE

# Stage of each model in the summary, by name prefix; the rest is "marts".
STAGES = (
    ("stg_", "ingest"),
    ("rejected_events", "ingest"),
    ("int_events__deduplicated", "dedupe"),
    ("duplicate_events", "dedupe"),
    ("int_identity__", "identity"),
    ("int_events__sessionized", "sessionize"),
)


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class NodeResult:
    unique_id: str
    resource_type: str
    status: str
    seconds: float
    message: str | None

    @property
    def name(self) -> str:
        return self.unique_id.split(".")[-1] if self.resource_type != "test" else self.unique_id

    @property
    def failed(self) -> bool:
        return self.status in {"error", "fail", "runtime error"}


@dataclass
class RunResult:
    returncode: int
    wall_seconds: float
    nodes: list[NodeResult] = field(default_factory=list)
    output: str = ""
    plan: LoadPlan | None = None
    target_path: Path | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not any(n.failed for n in self.nodes)

    def stage_seconds(self) -> dict[str, float]:
        stages: dict[str, float] = {}
        for node in self.nodes:
            stage = "tests" if node.resource_type in {"test", "unit_test"} else stage_of(node.name)
            stages[stage] = stages.get(stage, 0.0) + node.seconds
        return stages

    def failure_reason(self) -> str:
        failed = [n for n in self.nodes if n.failed]
        if failed:
            first = failed[0]
            message = " ".join(ANSI_ESCAPE.sub("", first.message or first.status).split())
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            return f"{first.resource_type} {first.name} {first.status}: {message}{more}"
        lines = [line for line in self.output.splitlines() if line.strip()]
        return lines[-1].strip() if lines else f"dbt exited with code {self.returncode}"

    @property
    def only_tests_failed(self) -> bool:
        failed = [n for n in self.nodes if n.failed]
        return bool(failed) and all(n.resource_type == "test" and n.status == "fail" for n in failed)


def stage_of(model_name: str) -> str:
    for prefix, stage in STAGES:
        if model_name.startswith(prefix):
            return stage
    return "marts"


def parse_vars(text: str | None) -> tuple[dict[str, Any], list[str]]:
    """dbt vars from a YAML mapping, given inline or as a path to a YAML file, checked with
    dbt_project.yml's against the vars' schema and the tracking plan (config.py): the overrides
    and any warnings."""
    overrides = read_vars(text)
    _, warnings = check_vars(overrides, compile_plan(read_plan())["events"])
    return overrides, warnings


def read_vars(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    source = Path(text)
    try:
        if len(text) < 4096 and source.is_file():
            text = source.read_text()
        parsed = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        first = " ".join(str(exc).split("\n")[0].split())
        raise ConfigError(f"--vars is not valid YAML: {first}") from exc
    if parsed is None:
        return {}
    if not isinstance(parsed, dict):
        raise ConfigError("--vars must be a YAML mapping, e.g. '{session_timeout_minutes: 45}'")
    refuse_templates(parsed, "--vars")
    return parsed


# dbt renders var values that hold Jinja: `{{ env_var('EVENT_ANALYTICS_PII_KEY') }}` in a var put
# the key into compiled SQL, manifest.json and dbt.log. Vars are data: such text is refused.
TEMPLATE_MARKERS = ("{{", "{%", "{#", "env_var")


def refuse_templates(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            refuse_templates(key, where)
            refuse_templates(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            refuse_templates(item, f"{where}[{index}]")
    elif isinstance(value, str) and any(marker in value for marker in TEMPLATE_MARKERS):
        raise ConfigError(f"{where}: vars are data, not templates: text with {{{{, {{% or env_var is refused")


LOG_MAX_BYTES_VARIABLE = "EVENT_ANALYTICS_LOG_MAX_BYTES"


def log_max_bytes() -> int:
    """How many bytes of dbt log to keep beside a warehouse."""
    text = os.environ.get(LOG_MAX_BYTES_VARIABLE, "10000000")
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"${LOG_MAX_BYTES_VARIABLE} must be a whole number of bytes, not {text!r}") from None
    if value < 60_000:
        raise ConfigError(f"${LOG_MAX_BYTES_VARIABLE} must be at least 60000 bytes, not {value}")
    return value


def spark_dir(warehouse: Path) -> Path:
    """The spark target's tables and metastore (profiles/profiles.yml): $EVENT_ANALYTICS_SPARK_DIR,
    else spark/ beside the DuckDB file."""
    return Path(os.environ.get("EVENT_ANALYTICS_SPARK_DIR") or warehouse.parent / "spark")


def dbt_environment(warehouse: Path, pii_key: str | None = None, plan_path: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["EVENT_ANALYTICS_WAREHOUSE"] = str(warehouse)
    env.pop(PLAN_VARIABLE, None)
    if plan_path is not None:
        env[PLAN_VARIABLE] = str(plan_path)
    if pii_key:
        env[PII_KEY_VARIABLE] = pii_key
    env.setdefault("EVENT_ANALYTICS_SPILL_DIR", str(warehouse.parent / ".spill"))
    env["EVENT_ANALYTICS_SPARK_DIR"] = str(spark_dir(warehouse))
    # dbt's log beside its warehouse, rotated: dbt keeps the file and 5 older ones, so each is a
    # sixth of what may be kept (EVENT_ANALYTICS_LOG_MAX_BYTES, 10 MB by default).
    env["DBT_LOG_PATH"] = str(warehouse.parent / "logs")
    env["DBT_LOG_FILE_MAX_BYTES"] = str(log_max_bytes() // 6)
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


# Vars that no dbt file reads (the CLI does): kept out of dbt's --vars, since any change to those
# makes dbt parse the whole project again (a saved parse holds the vars it was made with).
CLI_ONLY_VARS = frozenset({"landing_path"})


def dbt_command(
    command: str,
    *,
    dbt_vars: dict[str, Any],
    full_refresh: bool = False,
    select: str | None = None,
    target_path: Path | None = None,
    unit_tests: bool = False,
    freshness: bool = False,
    target: str | None = None,
) -> list[str]:
    """The dbt process's command line (dbt_worker runs dbt with node events on stdout)."""
    root = project_dir()
    args = [
        sys.executable,
        "-m",
        "event_analytics.dbt_worker",
        *(["--freshness"] if freshness else []),
        command,
        "--project-dir",
        str(root),
        "--profiles-dir",
        str(root / "profiles"),
        "--vars",
        json.dumps(dbt_vars),
    ]
    if target_path is not None:
        args += ["--target-path", str(target_path)]
    if target:
        args += ["--target", target]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    if command == "build" and not unit_tests:
        # Unit tests check the SQL, not the data: CI runs them (make test-dbt); a scheduled run
        # would repeat them every time for nothing (dbt's own advice for production builds).
        args += ["--exclude-resource-type", "unit_test"]
    return args


def landing_location(landing: str | Path) -> str:
    """The landing root as dbt and the reader see it: an absolute folder or a URL."""
    if is_url(landing):
        return str(landing).rstrip("/")
    path = Path(landing).resolve()
    if not path.is_dir():
        raise ConfigError(f"landing folder {path} does not exist")
    return str(path)


def run_dbt(
    command: str,
    *,
    landing: str | Path,
    warehouse: Path,
    full_refresh: bool = False,
    dbt_vars: dict[str, Any] | None = None,
    select: str | None = None,
    stream: bool = False,
    observe: Callable[[subprocess.Popen[str]], None] | None = None,
    pii_key: str | None = None,
    unit_tests: bool = False,
    plan: LoadPlan | None = None,
    freshness: bool = False,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    target: str | None = None,
) -> RunResult:
    """Run one dbt command (build, run, test) on the warehouse; never raises for dbt's own failures.

    `observe` is called with the started dbt process (the benchmark samples its memory);
    `on_event` with each node's start and end as dbt reports them (dbt_worker). With `freshness`, a
    build that succeeds is followed by `dbt source freshness` (results: sources.json in the
    result's target_path). Without
    `pii_key`, dbt takes $EVENT_ANALYTICS_PII_KEY from the environment (and fails if it is unset).
    A build or run loads the landing files of `plan`, planned here when not given
    (ingest.plan_load): the plan comes back in the result.
    """
    root = landing_location(landing)
    warehouse = warehouse.resolve()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    all_vars = {**(dbt_vars or {}), "landing_path": root}
    # dbt reads the landing through the load plan, never var landing_path: passing this run's folder
    # would only change dbt's vars, and with them make dbt parse the whole project again.
    dbt_only_vars = {name: value for name, value in all_vars.items() if name not in CLI_ONLY_VARS}
    # One target folder per warehouse, so concurrent pipelines on different warehouses do not mix
    # their compiled SQL and run results.
    target_path = warehouse.parent / f".dbt-target-{warehouse.stem}"
    plan_path = None
    if command in {"build", "run"}:
        if plan is None:
            plan = plan_load(root, warehouse, project_vars(all_vars), full_refresh=full_refresh)
        target_path.mkdir(parents=True, exist_ok=True)
        plan_path = target_path / "landing_plan.json"
        plan.write(plan_path)
    cmd = dbt_command(
        command,
        dbt_vars=dbt_only_vars,
        full_refresh=full_refresh,
        select=select,
        target_path=target_path,
        unit_tests=unit_tests,
        freshness=freshness,
        target=target,
    )
    started_epoch = time.time()
    started = time.perf_counter()
    output: list[str] = []
    with subprocess.Popen(
        cmd,
        cwd=project_dir(),
        env=dbt_environment(warehouse, pii_key, plan_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as proc:
        try:
            if observe is not None:
                observe(proc)
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith(EVENT_PREFIX):
                    if on_event is not None:
                        on_event(json.loads(line[len(EVENT_PREFIX) :]))
                    continue
                output.append(line)
                if stream:
                    sys.stdout.write(line)
                    sys.stdout.flush()
        except BaseException:
            # stopped (SIGTERM, Ctrl-C) or failed here: dbt must not go on writing the warehouse
            # without us, holding its lock
            stop_process(proc)
            raise
    wall = time.perf_counter() - started
    return RunResult(
        returncode=proc.returncode,
        wall_seconds=wall,
        nodes=read_run_results(target_path / "run_results.json", since=started_epoch),
        output="".join(output),
        plan=plan,
        target_path=target_path,
    )


def stop_process(proc: subprocess.Popen[str], grace_seconds: float = 20.0) -> None:
    """Ask the process to stop, then make it."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace_seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def read_run_results(path: Path, since: float) -> list[NodeResult]:
    """Nodes of the run_results.json this run wrote (an older file is ignored)."""
    if not path.exists() or path.stat().st_mtime < since - 1.0:
        return []
    data = json.loads(path.read_text())
    nodes = []
    for result in data.get("results", []):
        unique_id = result["unique_id"]
        nodes.append(
            NodeResult(
                unique_id=unique_id,
                resource_type=unique_id.split(".")[0],
                status=str(result.get("status")),
                seconds=float(result.get("execution_time") or 0.0),
                message=result.get("message"),
            )
        )
    return nodes
