"""The tracking plan (tracking_plan.yml): loading it, linting it, and compiling it for dbt.

`lint` lists every problem at once, so one `event-analytics plan check` run tells an owner all they
must fix: names that are not snake_case object_action, near-duplicate names, source names (the names
senders use, e.g. Segment's "Order Completed") claimed by two events or equal to another event's
name, properties whose names suggest PII without `pii: true` (nested ones too, named by their path:
`order_completed.properties.products[].name`), missing descriptions or owners, versions that are
not SchemaVer, and, against an earlier version of the file, breaking changes without a MODEL bump.

A property of type `array` may declare `items` (a property spec for every element) and one of type
`object` may declare `properties` (name -> property spec), nested to any depth; staging then
validates and applies the PII rules inside. Without them an array or object is checked only for
its JSON type.

dbt reads the plan through one generated macro (macros/tracking_plan.sql, `plan compile`); `plan
check` fails when that file differs from what the plan compiles to, so it is never edited by hand.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from event_analytics.project import ConfigError, project_dir

EVENT_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
SCHEMAVER = re.compile(r"^(\d+)-(\d+)-(\d+)$")
TYPES = {"string", "integer", "number", "boolean", "timestamp", "object", "array"}
PII_HANDLING = ("drop", "hash", "truncate_ip")
FORMATS = ("url",)
# Words shortened or spelled differently in colliding names (btn_click vs button_clicked).
ABBREVIATIONS = {"btn": "button", "usr": "user", "prod": "product", "qty": "quantity", "img": "image"}
PROPERTY_SECTIONS = ("properties", "traits")
# How staging writes each identifier (plan section `identity`): as sent, always as its keyed HMAC,
# or as its HMAC only when it matches a pii.redact pattern (a UUID never does).
IDENTIFIERS = ("userId", "anonymousId", "groupId", "messageId")
IDENTITY_HANDLINGS = ("keep", "hash", "hash_if_pii")
DEFAULT_IDENTITY_HANDLING = "hash_if_pii"
# The ways senders encode an @: percent-encoded (once or twice), a JSON escape left in text, HTML
# character references. Compiled patterns accept each where an @ stands.
ENCODED_AT = r"(?:@|%(?:25)?40|\\u0040|&#0*64;|&#[xX]0*40;)"
SPEC_KEYS = (
    "type",
    "required",
    "enum",
    "pii",
    "pii_handling",
    "pii_note",
    "format",
    "description",
    "items",
    "properties",
)


def plan_path() -> Path:
    return project_dir() / "tracking_plan.yml"


def macro_path() -> Path:
    return project_dir() / "macros" / "tracking_plan.sql"


def read_plan(path: Path | None = None) -> dict[str, Any]:
    path = path or plan_path()
    try:
        return load_plan(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read the tracking plan: {exc}") from exc


def load_plan(text: str) -> dict[str, Any]:
    try:
        plan = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"tracking plan is not valid YAML: {exc}") from exc
    if not isinstance(plan, dict) or not isinstance(plan.get("events"), dict):
        raise ConfigError("tracking plan needs a mapping `events: {event_name: {...}}`")
    return plan


def plan_at_revision(revision: str, path: Path | None = None) -> dict[str, Any]:
    path = path or plan_path()
    relative = path.resolve().relative_to(project_dir())
    shown = subprocess.run(
        ["git", "show", f"{revision}:{relative.as_posix()}"], cwd=project_dir(), capture_output=True, text=True
    )
    if shown.returncode != 0:
        raise ConfigError(f"cannot read {relative} at {revision}: {shown.stderr.strip()}")
    return load_plan(shown.stdout)


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def normalised(name: str) -> str:
    """A name reduced to its words' stems: Button_Clicked, button_clicked and btn_click collide."""
    words = re.findall(r"[a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower())
    stems = []
    for word in words:
        word = ABBREVIATIONS.get(word, word)
        for suffix in ("ed", "es", "s", "ing"):
            if word.endswith(suffix) and len(word) > len(suffix) + 2:
                word = word[: -len(suffix)]
                break
        stems.append(word)
    return "_".join(stems)


def suggests_pii(name: str, hints: list[str]) -> bool:
    words = re.findall(r"[a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower())
    return any(word == hint or (len(hint) > 3 and hint in word) for word in words for hint in hints)


def pii_settings(plan: dict[str, Any]) -> dict[str, Any]:
    pii = plan.get("pii") if isinstance(plan.get("pii"), dict) else {}
    return {
        "redact": dict(pii.get("redact") or {}),
        "query_parameters": [str(name).lower() for name in pii.get("query_parameters") or []],
        "name_hints": [str(hint).lower() for hint in pii.get("name_hints") or []],
    }


def identity_settings(plan: dict[str, Any]) -> dict[str, str]:
    identity = plan.get("identity") if isinstance(plan.get("identity"), dict) else {}
    return {name: str(identity.get(name, DEFAULT_IDENTITY_HANDLING)) for name in IDENTIFIERS}


def with_encodings(pattern: str) -> str:
    """The pattern with each literal @ (outside character classes) matching its encodings too, so
    ivan%40example.com and ivan&#64;example.com are found, and redacted, as the email they are."""
    out, in_class, escaped = [], False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "@" and not in_class:
            out.append(ENCODED_AT)
            continue
        out.append(char)
    return "".join(out)


def properties_of(event: dict[str, Any]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for section in PROPERTY_SECTIONS:
        for name, spec in section_of(event, section).items():
            merged[f"{section}.{name}"] = spec_of(spec)
    return merged


def source_names_of(event: Any) -> list[Any]:
    names = event.get("source_names") if isinstance(event, dict) else None
    return names if isinstance(names, list) else []


def lint(plan: dict[str, Any], previous: dict[str, Any] | None = None) -> list[Problem]:
    problems: list[Problem] = lint_pii_settings(plan)
    hints = pii_settings(plan)["name_hints"]
    events: dict[str, Any] = plan["events"]
    seen: dict[str, str] = {}
    claimed: dict[str, str] = {}
    personal = personal_data_pattern(plan)
    for name, event in events.items():
        event = event if isinstance(event, dict) else {}
        if not EVENT_NAME.match(name):
            problems.append(Problem(name, "name is not snake_case object_action (e.g. product_added)"))
        key = normalised(name)
        if key in seen:
            problems.append(Problem(name, f"near-duplicate of {seen[key]}"))
        seen.setdefault(key, name)
        problems.extend(lint_source_names(name, event, events, claimed, personal))
        for field in ("description", "owner"):
            if not str(event.get(field) or "").strip():
                problems.append(Problem(name, f"missing {field}"))
        if not SCHEMAVER.match(str(event.get("version", ""))):
            problems.append(Problem(name, f"version {event.get('version')!r} is not SchemaVer MODEL-REVISION-ADDITION"))
        for section in PROPERTY_SECTIONS:
            fields = event.get(section)
            if fields is not None and not isinstance(fields, dict):
                problems.append(Problem(f"{name}.{section}", "must be a mapping of name -> property spec"))
        for prop, spec in properties_of(event).items():
            problems.extend(lint_property(f"{name}.{prop}", prop.split(".", 1)[1], spec, hints))
    for field, spec in (plan.get("context") or {}).items():
        problems.extend(lint_property(f"context.{field}", field, spec if isinstance(spec, dict) else {}, hints))
    if previous is not None:
        problems.extend(breaking_changes(previous, plan))
    return problems


def lint_pii_settings(plan: dict[str, Any]) -> list[Problem]:
    settings = pii_settings(plan)
    problems = []
    for kind in ("email", "phone", "card", "ip"):
        if kind not in settings["redact"]:
            problems.append(Problem("pii.redact", f"missing the {kind} pattern"))
    for kind, pattern in settings["redact"].items():
        try:
            re.compile(str(pattern))
        except re.error as exc:
            problems.append(Problem(f"pii.redact.{kind}", f"not a regular expression: {exc}"))
    for key in ("query_parameters", "name_hints"):
        if not settings[key]:
            problems.append(Problem(f"pii.{key}", "missing or empty"))
    identity = plan.get("identity")
    if identity is not None and not isinstance(identity, dict):
        problems.append(Problem("identity", f"must be a mapping of {', '.join(IDENTIFIERS)} -> handling"))
    for name, handling in (identity if isinstance(identity, dict) else {}).items():
        if name not in IDENTIFIERS:
            problems.append(Problem(f"identity.{name}", f"not an identifier: one of {', '.join(IDENTIFIERS)}"))
        elif handling not in IDENTITY_HANDLINGS:
            problems.append(Problem(f"identity.{name}", f"{handling!r} is not one of {', '.join(IDENTITY_HANDLINGS)}"))
    return problems


def personal_data_pattern(plan: dict[str, Any]) -> re.Pattern[str] | None:
    """The redaction patterns as one regex (None while one of them is broken: reported apart)."""
    try:
        return re.compile("|".join(f"(?:{with_encodings(str(p))})" for p in pii_settings(plan)["redact"].values()))
    except re.error:
        return None


def lint_source_names(
    name: str,
    event: dict[str, Any],
    events: dict[str, Any],
    claimed: dict[str, str],
    personal: re.Pattern[str] | None,
) -> list[Problem]:
    """An event's source names: non-empty strings, each mapping to one event only (a sent name that
    is another event's canonical name would be ambiguous). They need not be snake_case."""
    names = event.get("source_names")
    if names is None:
        return []
    if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
        return [Problem(name, "source_names must be a list of non-empty strings")]
    problems = []
    for source_name in names:
        if personal is not None and personal.search(source_name):
            # the name would reach fct_events.source_event_name; it is not repeated here
            problems.append(Problem(name, "a source name holds personal data"))
        elif source_name in events and source_name != name:
            problems.append(Problem(name, f"source name {source_name!r} is the name of event {source_name}"))
        elif source_name in claimed:
            owner = claimed[source_name]
            where = "listed twice" if owner == name else f"also claimed by {owner}"
            problems.append(Problem(name, f"source name {source_name!r} {where}"))
        claimed.setdefault(source_name, name)
    return problems


def lint_property(where: str, name: str, spec: dict[str, Any], hints: list[str]) -> list[Problem]:
    """A property spec and, recursively, the specs nested in it (`items`, `properties`)."""
    problems = []
    if spec.get("type") not in TYPES:
        problems.append(Problem(where, f"type {spec.get('type')!r} is not one of {', '.join(sorted(TYPES))}"))
    # A reviewed exception states why: `pii: false` with a `pii_note`.
    if suggests_pii(name, hints) and spec.get("pii") is not True and not str(spec.get("pii_note") or "").strip():
        problems.append(Problem(where, "name suggests personal data: mark it pii: true, or pii: false with a pii_note"))
    if spec.get("pii_handling", "drop") not in PII_HANDLING:
        problems.append(Problem(where, f"pii_handling must be one of {', '.join(PII_HANDLING)}"))
    if spec.get("format") is not None and spec.get("format") not in FORMATS:
        problems.append(Problem(where, f"format must be one of {', '.join(FORMATS)}"))
    if spec.get("enum") is not None and not isinstance(spec.get("enum"), list):
        problems.append(Problem(where, "enum must be a list"))
    # Usually an unquoted value with a comma in a {...} mapping, which YAML splits into a new key.
    problems.extend(Problem(where, f"unknown key {key!r}") for key in spec if key not in SPEC_KEYS)
    problems.extend(lint_nested(where, spec, hints))
    return problems


def lint_nested(where: str, spec: dict[str, Any], hints: list[str]) -> list[Problem]:
    problems = []
    if "items" in spec:
        items = spec["items"]
        if spec.get("type") != "array":
            problems.append(Problem(where, "items is only for type array"))
        elif not isinstance(items, dict):
            problems.append(Problem(where, "items must be a property spec (a mapping)"))
        else:
            # An element has no name of its own: the array's name was checked already.
            problems.extend(lint_property(f"{where}[]", "", items, hints))
    if "properties" in spec:
        fields = spec["properties"]
        if spec.get("type") != "object":
            problems.append(Problem(where, "properties is only for type object"))
        elif not isinstance(fields, dict):
            problems.append(Problem(where, "properties must be a mapping of name -> property spec"))
        else:
            for field, child in fields.items():
                child = child if isinstance(child, dict) else {}
                problems.extend(lint_property(f"{where}.{field}", str(field), child, hints))
    return problems


def model_of(version: Any) -> int | None:
    match = SCHEMAVER.match(str(version))
    return int(match.group(1)) if match else None


def breaking_changes(previous: dict[str, Any], current: dict[str, Any]) -> list[Problem]:
    """Removed or retyped properties, new required ones and newly declared nested specs (values
    that passed whole are then checked and trimmed), nested ones too, in events whose MODEL did not
    go up. A nested spec taken away loosens the check: not breaking."""
    problems = []
    for name, event in current["events"].items():
        before = previous["events"].get(name)
        if not isinstance(before, dict) or not isinstance(event, dict):
            continue
        old_model, new_model = model_of(before.get("version")), model_of(event.get("version"))
        if old_model is not None and new_model is not None and new_model > old_model:
            continue
        changes = []
        for section in PROPERTY_SECTIONS:
            changes += field_changes(section, section_of(before, section), section_of(event, section))
        problems.extend(Problem(name, f"breaking change without a MODEL bump: {change}") for change in changes)
    return problems


def section_of(event: dict[str, Any], section: str) -> dict[str, Any]:
    fields = event.get(section)
    return fields if isinstance(fields, dict) else {}


def spec_of(spec: Any) -> dict[str, Any]:
    return spec if isinstance(spec, dict) else {}


def field_changes(where: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Breaking changes between two mappings of name -> spec (a section, or an object's properties)."""
    changes = [f"{where}.{field} removed" for field in old if field not in new]
    for field, spec in new.items():
        spec = spec_of(spec)
        if spec.get("required") and not (field in old and spec_of(old[field]).get("required")):
            changes.append(f"{where}.{field} is newly required")
        if field in old:
            changes += spec_changes(f"{where}.{field}", spec_of(old[field]), spec)
    return changes


def spec_changes(where: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    if old.get("type") != new.get("type"):
        return [f"{where} retyped {old.get('type')} -> {new.get('type')}"]
    if new.get("type") == "array" and isinstance(new.get("items"), dict):
        if not isinstance(old.get("items"), dict):
            return [f"{where} items newly declared"]
        old_items, new_items = old["items"], new["items"]
        changes = spec_changes(f"{where}[]", old_items, new_items)
        if new_items.get("required") and not old_items.get("required"):
            changes.append(f"{where}[] is newly required")
        return changes
    if new.get("type") == "object" and isinstance(new.get("properties"), dict):
        if not isinstance(old.get("properties"), dict):
            return [f"{where} properties newly declared"]
        return field_changes(where, old["properties"], new["properties"])
    return []


def compiled_property(spec: dict[str, Any]) -> dict[str, Any]:
    """What staging needs of a property; `items` / `properties` (compiled likewise) are null unless
    an array or object declares them."""
    items, fields = spec.get("items"), spec.get("properties")
    return {
        "type": spec.get("type"),
        "required": bool(spec.get("required", False)),
        "enum": [str(value) for value in spec["enum"]] if isinstance(spec.get("enum"), list) else None,
        "pii": spec.get("pii") is True,
        "pii_handling": spec.get("pii_handling", "drop"),
        "format": spec.get("format"),
        "items": compiled_property(items) if spec.get("type") == "array" and isinstance(items, dict) else None,
        "properties": (
            {name: compiled_property(spec_of(child)) for name, child in fields.items()}
            if spec.get("type") == "object" and isinstance(fields, dict)
            else None
        ),
    }


def compile_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """What dbt needs of the plan, in a stable order: types, requirements, enums, PII handling."""
    events = {}
    for name in sorted(plan["events"]):
        event = plan["events"][name] or {}
        events[name] = {
            "version": str(event.get("version")),
            # The names senders use for the event; staging maps them to it (canonical_event_name).
            "source_names": [str(source_name) for source_name in source_names_of(event)],
            **{
                section: {prop: compiled_property(spec_of(spec)) for prop, spec in section_of(event, section).items()}
                for section in PROPERTY_SECTIONS
            },
        }
    context = {field: compiled_property(spec_of(spec)) for field, spec in (plan.get("context") or {}).items()}
    pii = pii_settings(plan)
    pii["redact"] = {kind: with_encodings(str(pattern)) for kind, pattern in pii["redact"].items()}
    # One alternation of every pattern: SQL tests it before redacting, GX suites scan for it.
    pii["redact_any"] = "(" + ")|(".join(pii["redact"].values()) + ")"
    return {"events": events, "context": context, "pii": pii, "identity": identity_settings(plan)}


def render_macro(plan: dict[str, Any]) -> str:
    payload = json.dumps(compile_plan(plan), sort_keys=True, separators=(",", ":"))
    literal = payload.replace("\\", "\\\\").replace("'", "\\'")
    return (
        "{#- GENERATED by `event-analytics plan compile` from tracking_plan.yml: do not edit.\n"
        "    `event-analytics plan check` (CI) fails when this file is out of date. -#}\n"
        "{% macro tracking_plan() -%}\n"
        f"    {{{{ return(fromjson('{literal}')) }}}}\n"
        "{%- endmacro %}\n"
    )


def macro_is_current(plan: dict[str, Any], path: Path | None = None) -> bool:
    path = path or macro_path()
    return path.is_file() and path.read_text() == render_macro(plan)


def write_macro(plan: dict[str, Any], path: Path | None = None) -> Path:
    path = path or macro_path()
    path.write_text(render_macro(plan))
    return path
