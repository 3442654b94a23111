"""`event-analytics plan docs`: the tracking plan as a readable catalogue, with what the warehouse saw.

Per event: its description, owner, version and properties (type, required, enum, PII handling), the
events kept (fct_events: deduplicated) and the messages that broke the plan (staging: by
violations, in either tracking_plan_mode); then the event names seen that the plan lacks.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from event_analytics.plan import PROPERTY_SECTIONS, compile_plan

FORMATS = ("markdown", "html")
# Staging nulls a name that holds personal data (violation `event name holds personal data`); the
# catalogue counts such messages under this label, never the name.
PERSONAL_NAME = "(names holding personal data)"


@dataclass(frozen=True)
class Counts:
    volume: int
    violations: int


def warehouse_counts(warehouse: Path | None) -> tuple[dict[str, Counts], bool]:
    """Counts per event name, and whether a warehouse was there to count from."""
    if warehouse is None or not warehouse.is_file():
        return {}, False
    with duckdb.connect(str(warehouse), read_only=True) as con:
        volume = dict(con.execute("select event_name, count(*) from marts.fct_events group by 1").fetchall())
        broken = dict(
            con.execute(
                "select coalesce(event_name, ?), count(*) from staging.stg_segment__events "
                "where violations is not null "
                "and (event_name is not null or violations = 'event name holds personal data') group by 1",
                [PERSONAL_NAME],
            ).fetchall()
        )
    names = set(volume) | set(broken)
    return {name: Counts(volume.get(name, 0), broken.get(name, 0)) for name in names}, True


def rows_of(plan: dict[str, Any], counts: dict[str, Counts]) -> list[dict[str, Any]]:
    compiled = compile_plan(plan)
    rows = []
    for name in sorted(plan["events"]):
        event = plan["events"][name] or {}
        fields = []
        for section in PROPERTY_SECTIONS:
            for prop, spec in compiled["events"][name][section].items():
                raw = (event.get(section) or {}).get(prop)
                fields += field_rows(f"{section}.{prop}", spec, raw if isinstance(raw, dict) else {})
        count = counts.get(name, Counts(0, 0))
        rows.append(
            {
                "name": name,
                "description": str(event.get("description") or ""),
                "owner": str(event.get("owner") or ""),
                "version": str(event.get("version") or ""),
                "source_names": compiled["events"][name]["source_names"],
                "volume": count.volume,
                "violations": count.violations,
                "fields": fields,
            }
        )
    return rows


def field_rows(label: str, spec: dict[str, Any], raw: dict[str, Any]) -> list[dict[str, str]]:
    """A field's row, then its nested fields' (`products[].price`), as staging checks them."""
    handling = spec["pii_handling"] if spec["pii"] else ("redacted" if is_free_text(spec) else "")
    rows = [
        {
            "name": label,
            "type": spec["type"] + (f" ({spec['format']})" if spec["format"] else ""),
            "required": "yes" if spec["required"] else "",
            "enum": ", ".join(str(value) for value in spec["enum"] or []),
            "pii": "yes" if spec["pii"] else "",
            "handling": handling,
            "description": str(raw.get("description") or ""),
        }
    ]
    if spec["pii"] and spec["pii_handling"] == "drop":
        return rows
    if spec["items"] is not None:
        items = raw.get("items")
        rows += field_rows(f"{label}[]", spec["items"], items if isinstance(items, dict) else {})
    for name, child in (spec["properties"] or {}).items():
        raw_child = (raw.get("properties") or {}).get(name)
        rows += field_rows(f"{label}.{name}", child, raw_child if isinstance(raw_child, dict) else {})
    return rows


def is_free_text(spec: dict[str, Any]) -> bool:
    return spec["type"] == "string" and not spec["enum"]


def unplanned(plan: dict[str, Any], counts: dict[str, Counts]) -> list[tuple[str, Counts]]:
    return sorted((name, c) for name, c in counts.items() if name not in plan["events"])


MARKDOWN_SPECIAL = set("\\`*[]()|~")
FIELD_COLUMNS = ("name", "type", "required", "enum", "pii", "handling", "description")


def render_markdown(plan: dict[str, Any], counts: dict[str, Counts], counted: bool) -> str:
    def cell(value: Any) -> str:
        """Text as inert Markdown: no HTML, link, emphasis or table syntax survives, whatever a
        sender put in an event name (other renderers than ours do not escape raw HTML)."""
        text = "".join("\\" + char if char in MARKDOWN_SPECIAL else char for char in str(value).replace("\n", " "))
        return html.escape(text, quote=True)

    source = "from the warehouse" if counted else "no warehouse found: counts are 0"
    lines = ["# Tracking plan", "", f"Generated from tracking_plan.yml; volumes and violations {source}.", ""]
    lines += ["| event | owner | version | events kept | plan violations |", "|---|---|---|---:|---:|"]
    rows = rows_of(plan, counts)
    lines += [
        f"| [{r['name']}](#{r['name']}) | {r['owner']} | {r['version']} | {r['volume']:,} | {r['violations']:,} |"
        for r in rows
    ]
    for r in rows:
        lines += ["", f"## {r['name']}", "", cell(r["description"]), ""]
        kept = f"{r['volume']:,} events kept · {r['violations']:,} violations"
        lines += [f"Owner: {r['owner']} · version {r['version']} · {kept}", ""]
        if r["source_names"]:
            lines += ["Sent as: " + ", ".join(f"`{cell(n)}`" for n in r["source_names"]), ""]
        if r["fields"]:
            lines += ["| " + " | ".join(FIELD_COLUMNS) + " |", "|" + "---|" * len(FIELD_COLUMNS)]
            lines += ["| " + " | ".join(cell(f[c]) for c in FIELD_COLUMNS) + " |" for f in r["fields"]]
        else:
            lines.append("No properties.")
    seen = unplanned(plan, counts)
    lines += ["", "## Seen but not in the plan", ""]
    if seen:
        lines += ["| event | events kept | messages |", "|---|---:|---:|"]
        lines += [f"| {cell(name)} | {c.volume:,} | {c.violations:,} |" for name, c in seen]
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def render_html(plan: dict[str, Any], counts: dict[str, Counts], counted: bool) -> str:
    def table(headers: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    rows = rows_of(plan, counts)
    source = "from the warehouse" if counted else "no warehouse found: counts are 0"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Tracking plan</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style></head><body>",
        "<h1>Tracking plan</h1>",
        f"<p>Generated from tracking_plan.yml; volumes and violations {html.escape(source)}.</p>",
        table(
            ("event", "owner", "version", "events kept", "plan violations"),
            [(r["name"], r["owner"], r["version"], f"{r['volume']:,}", f"{r['violations']:,}") for r in rows],
        ),
    ]
    for r in rows:
        parts += [
            f"<h2 id='{html.escape(r['name'])}'>{html.escape(r['name'])}</h2>",
            f"<p>{html.escape(r['description'])}</p>",
        ]
        parts.append(
            f"<p>Owner: {html.escape(r['owner'])} · version {html.escape(r['version'])} · "
            f"{r['volume']:,} events kept · {r['violations']:,} violations</p>"
        )
        if r["source_names"]:
            parts.append(
                "<p>Sent as: " + ", ".join(f"<code>{html.escape(n)}</code>" for n in r["source_names"]) + "</p>"
            )
        parts.append(
            table(FIELD_COLUMNS, [tuple(f[c] for c in FIELD_COLUMNS) for f in r["fields"]])
            if r["fields"]
            else "<p>No properties.</p>"
        )
    seen = unplanned(plan, counts)
    parts.append("<h2>Seen but not in the plan</h2>")
    parts.append(
        table(("event", "events kept", "messages"), [(n, f"{c.volume:,}", f"{c.violations:,}") for n, c in seen])
        if seen
        else "<p>None.</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_catalogue(plan: dict[str, Any], warehouse: Path | None, out: Path, fmt: str) -> Path:
    counts, counted = warehouse_counts(warehouse)
    render = render_html if fmt == "html" else render_markdown
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(plan, counts, counted))
    return out
