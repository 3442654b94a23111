"""The pipeline's vars: one schema, checked before any work.

`PipelineVars` describes every var: its type, range or choices, and what it does. Defaults live in
dbt_project.yml (dbt reads them there); a run's vars are dbt_project.yml's with --vars on top, and
`check_vars` validates the merged set against the schema, then against the tracking plan (funnel
steps and their property filters, guardrail, goal, retention and active-user events) and against fct_sessions'
contract (funnel breakdowns). A problem is a ConfigError (exit 2) of one line; an unknown var names
the nearest known one. README's table of vars is generated from the schema (`vars_table`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from event_analytics.project import ConfigError, project_dir

SnakeCase = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
EventName = Annotated[str, StringConstraints(min_length=1)]
# Windows end up as SQL intervals: beyond ten years they only overflow them.
# Whole days: dbt.dateadd casts its amount to an integer, so half a day would silently round.
Days = Annotated[int, Field(gt=0, le=3650)]
Scalar = str | int | float | bool

STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class FunnelStep(BaseModel):
    """A funnel step with a property filter: {event: product_added, where: {currency: EUR}}."""

    model_config = STRICT
    event: EventName
    where: dict[str, Scalar] = Field(default_factory=dict)


class Funnel(BaseModel):
    model_config = STRICT
    name: SnakeCase
    steps: Annotated[list[EventName | FunnelStep], Field(min_length=2)]
    window_days: Days


class PipelineVars(BaseModel):
    """Every var of the pipeline. Field descriptions are README's table of vars."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    landing_path: str = Field(
        description="Landing folder, relative to the project or absolute, or an s3://, gs:// or az:// URL."
    )
    landing_patterns: Annotated[list[Annotated[str, StringConstraints(min_length=1)]], Field(min_length=1)] = Field(
        description="Globs of event files below the landing root (`**/` is any number of folders). "
        "The default reads our layout and Segment's and RudderStack's storage layouts. "
        "Names starting with . or _, or ending .tmp, .part, .crc are never events."
    )
    landing_follow_symlinks: Literal["inside", "never", "always"] = Field(
        description="Symlinks below the landing root: followed when they resolve inside it, never, or always."
    )
    landing_settle_seconds: Annotated[float, Field(ge=0)] = Field(
        description="A file modified less than this many seconds before the run started waits for the next run; "
        "use 60 or more for a folder a writer fills in place."
    )
    landing_max_line_bytes: Annotated[int, Field(ge=1)] = Field(
        description="Longest landing line parsed; a longer one is quarantined as line_too_long."
    )
    sessionize_events_per_statement: Annotated[int, Field(ge=1)] = Field(
        description="Events sessionized per statement of a full build (bounds the memory of one statement)."
    )
    session_timeout_minutes: Annotated[float, Field(gt=0, le=10080)] = Field(
        description="A gap greater than this starts a new session; a gap of exactly this stays in it."
    )
    tracking_plan_mode: Literal["enforce", "flag"] = Field(
        description="Events that break tracking_plan.yml: enforce quarantines them (reject_reason "
        "unplanned_event or schema_violation); flag lets them through with the problems in their `violations` column."
    )
    max_event_age_days: Annotated[float, Field(gt=0, le=36500)] = Field(
        description="An event more than this many days before its receivedAt has an implausible time "
        "(implausible_timestamp in enforce mode; in flag mode kept with a violation, its time set to receivedAt). "
        "A message without a valid receivedAt is measured against its landing file's modification time."
    )
    max_future_minutes: Annotated[float, Field(ge=0, le=525600)] = Field(
        description="An event more than this many minutes after its receivedAt has an implausible time."
    )
    quarantine_retention_days: Annotated[int, Field(ge=0, le=36500)] = Field(
        description="Quarantine keeps raw lines (personal data included) this many days after a run wrote them; "
        "then their text is cleared, the rows and reasons kept."
    )
    max_rejected_share: Annotated[float, Field(ge=0, le=1)] = Field(
        description="A run whose share of quarantined lines in a landing folder exceeds this warns, naming the "
        "top reasons."
    )
    max_rejected_share_error: Annotated[float, Field(ge=0, le=1)] = Field(
        description="Above this share the run fails (exit 1, nothing published)."
    )
    freshness_warn_after_hours: Annotated[int, Field(ge=1)] = Field(
        description="`dbt source freshness` (models/sources.yml), run after every build: the newest landing "
        "file or staged event older than this warns."
    )
    freshness_error_after_hours: Annotated[int, Field(ge=1)] = Field(
        description="dbt calls a source this old stale with status error; the run still only warns about it."
    )
    funnels: Annotated[list[Funnel], Field(min_length=1)] = Field(
        description="Funnels: {name, steps, window_days}; a step is an event name or {event, where: {property: value}}."
    )
    funnel_breakdowns: list[SnakeCase] = Field(
        description="Columns of fct_sessions (each user's first session) to split funnel_steps by."
    )
    funnel_unit: Literal["user", "group"] = Field(
        description="What funnels count: user, or group as B2B teams do: a user's events count for every group "
        "the user made a group call for, users in no group are not counted, and funnel_conversions.user_key and "
        "funnel_steps.users hold group_ids and count groups."
    )
    allow_unplanned_funnel_steps: bool = Field(
        default=False,
        description="Funnel steps and step filters the tracking plan lacks are warnings, not errors.",
    )
    retention_grain: Literal["week", "day", "month"] = Field(description="Retention periods (weeks start Monday, UTC).")
    retention_mode: Literal["calendar", "rolling"] = Field(
        description="calendar: active in cohort period + n; rolling: n periods after the first event."
    )
    retention_event: EventName | None = Field(description="The event that makes a user active; null: any event.")
    retention_unit: Literal["user", "group"] = Field(
        description="What retention counts: user, or group (a group's cohort is the period of its members' first "
        "event; it is active when any member is)."
    )
    experiment_goal_event: EventName = Field(description="The event an experiment's users convert on.")
    experiment_window_days: Days = Field(description="Days after exposure a conversion counts.")
    experiment_guardrail_events: list[EventName] = Field(
        description="Events whose rate per variant experiment_guardrails reports."
    )
    experiment_control_variant: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="The variant the others are compared with."
    )
    experiment_expected_split: dict[str, dict[str, Annotated[float, Field(ge=0)]]] = Field(
        description="{experiment_id: {variant: weight}} for the SRM check; experiments not listed expect an "
        "equal split."
    )
    active_user_events: Annotated[list[EventName], Field(min_length=1)] | None = Field(
        description="The events that make a user active in active_users and user_lifecycle; null: any event. "
        "Bots' events (user_agent_patterns) never count."
    )
    attribution_lookback_days: Days = Field(
        description="attribution credits a user's sessions that started at most this many days before the order."
    )
    path_max_steps: Annotated[int, Field(ge=1, le=50)] = Field(
        description="user_paths follows each session's first this many transitions between pages or screens."
    )
    path_top_pairs: Annotated[int, Field(ge=1, le=10000)] = Field(
        description="user_paths keeps this many (from, to) pairs per step, those of the most sessions."
    )
    spark_file_format: Literal["parquet", "delta"] = Field(
        description="Spark targets only: the models' table format, given with --vars (a change needs --full-refresh). "
        "parquet (tested here) replaces the changed partitions of the partitioned incremental models and rewrites "
        "the other changed tables; delta (a cluster with Delta Lake, not run here) deletes and adds rows by key in "
        "one MERGE."
    )
    plan_lint_events: str | None = Field(
        default=None, description="sqlfluff only: the events staging is compiled with when linted."
    )

    @model_validator(mode="after")
    def thresholds_in_order(self) -> PipelineVars:
        if self.max_rejected_share > self.max_rejected_share_error:
            raise ValueError("max_rejected_share must not exceed max_rejected_share_error")
        if self.freshness_warn_after_hours > self.freshness_error_after_hours:
            raise ValueError("freshness_warn_after_hours must not exceed freshness_error_after_hours")
        return self


def default_vars() -> dict[str, Any]:
    return yaml.safe_load((project_dir() / "dbt_project.yml").read_text()).get("vars") or {}


def check_vars(
    overrides: dict[str, Any], plan_events: dict[str, Any], defaults: dict[str, Any] | None = None
) -> tuple[PipelineVars, list[str]]:
    """The run's vars (dbt_project.yml's, `overrides` on top), validated; ConfigError on the first
    problem, else the vars and any warnings."""
    merged = {**(default_vars() if defaults is None else defaults), **overrides}
    unknown = [name for name in overrides if name not in PipelineVars.model_fields]
    if unknown:
        raise ConfigError(unknown_name("var", unknown[0], PipelineVars.model_fields))
    try:
        settings = PipelineVars.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(describe(exc)) from None
    problems, warnings = plan_problems(settings, plan_events)
    if problems:
        raise ConfigError(problems[0])
    return settings, warnings


def unknown_name(kind: str, name: str, known: Iterable[str]) -> str:
    nearest = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
    hint = f"; did you mean {nearest[0]}?" if nearest else ""
    return f"unknown {kind} {name}{hint}"


def describe(exc: ValidationError) -> str:
    """The most telling problem, as one line (`var funnels[0].window_days: ...`): a misspelt key
    first, then a wrong value, then a wrong type (with a union, each arm reports its own)."""
    errors = sorted(
        exc.errors(),
        key=lambda e: (e["type"] != "extra_forbidden", e["type"].endswith("_type"), -len(e["loc"])),
    )
    error = errors[0]
    location = ""
    for part in error["loc"]:
        if isinstance(part, int):
            location += f"[{part}]"
        elif not is_union_arm(str(part)):
            location += f".{part}" if location else str(part)
    if error["type"] == "extra_forbidden":
        parent, _, name = location.rpartition(".")
        if not parent:
            return unknown_name("var", name, PipelineVars.model_fields)
        return unknown_name(f"key in var {parent}:", name, {**Funnel.model_fields, **FunnelStep.model_fields})
    message = error["msg"][0].lower() + error["msg"][1:]
    if not location:  # a rule across vars: its message names them
        return "vars: " + message.removeprefix("value error, ")
    if ", not " in message or error["type"] == "missing":
        return f"var {location}: {message}"
    return f"var {location}: {message}, not {error.get('input')!r}"


def is_union_arm(part: str) -> bool:
    """pydantic's name for one arm of a union in an error's location, not a place in the vars."""
    return part in {"str", "int", "float", "bool", "none", "FunnelStep"} or "-" in part or "[" in part


def plan_problems(settings: PipelineVars, plan_events: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Events and properties the vars name that the tracking plan lacks, and breakdowns that are
    not fct_sessions columns: (errors, warnings)."""
    errors: list[str] = []
    warnings: list[str] = []
    funnel_findings = errors if not settings.allow_unplanned_funnel_steps else warnings
    for funnel in settings.funnels:
        for index, step in enumerate(funnel.steps, start=1):
            event, where = (step, {}) if isinstance(step, str) else (step.event, step.where)
            where_step = f"funnel {funnel.name} step {index}"
            if event not in plan_events:
                funnel_findings.append(f"{where_step}: {unknown_name('event', event, plan_events)} (not in the plan)")
                continue
            declared = plan_events[event].get("properties") or {}
            for name in where:
                spec = declared.get(name)
                if spec is None:
                    funnel_findings.append(f"{where_step}: {unknown_name(f'property of {event}:', name, declared)}")
                elif spec.get("pii"):
                    funnel_findings.append(
                        f"{where_step}: {event}.{name} is personal data, never in fct_events as sent: "
                        "no filter can match it"
                    )
    named_events = [("experiment_goal_event", settings.experiment_goal_event)]
    named_events += [("experiment_guardrail_events", name) for name in settings.experiment_guardrail_events]
    if settings.retention_event is not None:
        named_events.append(("retention_event", settings.retention_event))
    named_events += [("active_user_events", name) for name in settings.active_user_events or []]
    for var, event in named_events:
        if event not in plan_events:
            errors.append(f"var {var}: {unknown_name('event', event, plan_events)} (not in the plan)")
    columns = session_columns()
    for column in settings.funnel_breakdowns:
        if column not in columns:
            errors.append(f"var funnel_breakdowns: {unknown_name('fct_sessions column', column, columns)}")
    return errors, warnings


def session_columns() -> list[str]:
    """fct_sessions' contract columns (models/marts/_models.yml)."""
    spec = yaml.safe_load((project_dir() / "models" / "marts" / "_models.yml").read_text())
    [sessions] = [model for model in spec["models"] if model["name"] == "fct_sessions"]
    return [column["name"] for column in sessions["columns"]]


def vars_table() -> str:
    """README's table of vars: name, type, default (dbt_project.yml) and description (the schema)."""
    defaults = default_vars()
    schema = PipelineVars.model_json_schema()
    rows = ["| var | type | default | what it does |", "|---|---|---|---|"]
    for name, field in PipelineVars.model_fields.items():
        default = defaults.get(name, field.default)
        shown = yaml.safe_dump(default, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()
        if len(shown) > 60:
            shown = "see dbt_project.yml"
        rows.append(f"| `{name}` | {type_of(schema['properties'][name], schema)} | `{shown}` | {field.description} |")
    return "\n".join(rows) + "\n"


def type_of(prop: dict[str, Any], schema: dict[str, Any]) -> str:
    """A short human type from a JSON Schema property."""
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    if "anyOf" in prop:
        return " or ".join(type_of(p, schema) for p in prop["anyOf"])
    if "$ref" in prop:
        return "object"
    kind = prop.get("type", "any")
    bounds = []
    for key, sign in (("exclusiveMinimum", ">"), ("minimum", "≥"), ("maximum", "≤")):
        if key in prop:
            bounds.append(f"{sign} {prop[key]:g}")
    if kind == "array":
        return f"list of {type_of(prop.get('items', {}), schema)}"
    if kind == "object":
        return "mapping"
    return {"number": "number", "integer": "integer", "string": "text", "boolean": "boolean", "null": "null"}.get(
        kind, kind
    ) + (f" {' '.join(bounds)}" if bounds else "")


README_MARKERS = ("<!-- vars:start -->", "<!-- vars:end -->")


def readme_with_vars_table(readme: str) -> str:
    """README's text with the table between README_MARKERS regenerated."""
    start, end = README_MARKERS
    if start not in readme or end not in readme:
        raise ValueError(f"README.md lacks the markers {start} and {end}")
    before, rest = readme.split(start, 1)
    _, after = rest.split(end, 1)
    return f"{before}{start}\n{vars_table()}{end}{after}"
