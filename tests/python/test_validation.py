"""End to end: generated events with faults through `event-analytics run`, GX suites and alerts.

The webhook is a real HTTP server on 127.0.0.1; the leak is a test-only mart added to a copy of the
project, so the PII suites (built from the warehouse's catalogue) must find it unaided.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from conftest import message, query, write_lines
from event_analytics.alerts import WEBHOOK_VARIABLE
from event_analytics.cli import app
from event_analytics.generate import GenerateOptions, generate
from event_analytics.project import EXIT_VALIDATION_FAILED, project_dir
from event_analytics.quality.checks import validate_warehouse
from event_analytics.state import validated_through

runner = CliRunner()
PLANTED_EMAIL = "jane.doe@example.org"
PROJECT_PARTS = (
    "dbt_project.yml",
    "profiles",
    "models",
    "macros",
    "seeds",
    "tests",
    "expectations",
    "tracking_plan.yml",
)


class Webhook:
    """Collects the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def text(self) -> str:
        return json.dumps(self.received)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the dbt project that a test may add models to."""
    copy = tmp_path / "project"
    for part in PROJECT_PARTS:
        source = project_dir() / part
        if source.is_dir():
            shutil.copytree(source, copy / part, ignore=shutil.ignore_patterns("python", "__pycache__"))
        else:
            copy.mkdir(exist_ok=True)
            shutil.copy2(source, copy / part)
    monkeypatch.setenv("EVENT_ANALYTICS_PROJECT_DIR", str(copy))
    return copy


def test_faults_are_quarantined_or_redacted_and_a_leak_alerts(
    tmp_path: Path, project: Path, webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    generate(GenerateOptions(out=landing, events=3000, days=3, faults=0.05, seed=11))
    # An email in free text (search_term is not PII in the plan) and an event the plan lacks.
    write_lines(
        landing / "planted.jsonl",
        [
            message(
                "planted-search",
                "2026-10-02T12:00:00Z",
                event="search_performed",
                anonymous_id="planted",
                properties={"search_term": f"invoice for {PLANTED_EMAIL}"},
            ),
            message("planted-unplanned", "2026-10-02T12:01:00Z", event="coupon_sprayed", anonymous_id="planted"),
        ],
    )
    warehouse = tmp_path / "w.duckdb"
    monkeypatch.setenv(WEBHOOK_VARIABLE, webhook.url)

    clean = runner.invoke(app, ["run", "--landing", str(landing), "--warehouse", str(warehouse)])
    assert clean.exit_code == 0, clean.output
    assert "validation passed" in clean.stderr
    # The generated events are weeks old: staging is stale, a warning, alerted once; all else passed.
    assert len(webhook.received) == 1
    assert "0 error(s), 1 warning(s)" in webhook.text() and "source_freshness" in webhook.text()
    assert (tmp_path / "data_docs" / "index.html").is_file()
    assert query(warehouse, "select reason from quarantine.rejected_events where source_file = 'planted.jsonl'") == [
        ("unplanned_event",)
    ]
    assert query(
        warehouse, "select properties ->> 'search_term' from marts.fct_events where event_id = 'planted-search'"
    ) == [("invoice for [email]",)]
    # the generator's own faults: emails in search terms, unplanned events, schema violations
    assert query(warehouse, "select count(*) from marts.fct_events where properties::varchar like '%@%'") == [(0,)]
    reasons = {row[0] for row in query(warehouse, "select distinct reason from quarantine.rejected_events")}
    assert {"unplanned_event", "schema_violation", "invalid_json"} <= reasons

    # The next scheduled run checks row by row only rows built after this validated run.
    since = validated_through(warehouse, {"landing_path": str(landing.resolve())})
    assert since == query(warehouse, "select max(_processed_at)::varchar from marts.fct_sessions")[0][0]
    stale = tmp_path / "stale.duckdb"
    shutil.copy(warehouse, stale)
    with duckdb.connect(str(stale)) as con:
        con.execute(
            "update marts.fct_sessions set utm_source = ? "
            "where session_id = (select min(session_id) from marts.fct_sessions)",
            [f"from {PLANTED_EMAIL}"],
        )
    assert validate_warehouse(stale, changed_since=since).success
    failed = validate_warehouse(stale).failures
    assert [(f.relation, f.column) for f in failed] == [("marts.fct_sessions", "utm_source")]
    with duckdb.connect(str(stale)) as con:
        con.execute(
            "update marts.fct_sessions set _processed_at = _processed_at + interval 1 second "
            "where session_id = (select min(session_id) from marts.fct_sessions)"
        )
    failed = validate_warehouse(stale, changed_since=since).failures
    assert [(f.suite, f.column) for f in failed] == [("pii.marts.fct_sessions.changed_rows", "utm_source")]

    # A mart the suites have never heard of, carrying a value redaction never saw.
    (project / "models" / "marts" / "contact_export.sql").write_text(
        "{{ config(contract={'enforced': false}) }}\n"
        f"select user_key, 'write to {PLANTED_EMAIL}' as contact_note\n"
        "from {{ ref('dim_users') }}\n"
        "order by user_key\n"
        "limit 2\n"
    )
    leaked = runner.invoke(app, ["run", "--landing", str(landing), "--warehouse", str(warehouse)])
    assert leaked.exit_code == EXIT_VALIDATION_FAILED, leaked.output
    assert "validation found problems" in leaked.stderr
    assert "contact_note" in leaked.stderr.strip().splitlines()[-1]
    assert PLANTED_EMAIL not in leaked.output

    assert len(webhook.received) == 2
    alert = json.dumps(webhook.received[1])
    assert "marts.contact_export" in alert
    assert "expect_column_values_to_not_match_regex failed on marts.contact_export.contact_note" in alert
    assert "2 unexpected of 2 rows" in alert
    assert "j***(email)" in alert
    assert PLANTED_EMAIL not in alert
    # the suites failed: nothing is published, and the alert says which copy BI tools keep
    assert "not published (this run failed): BI tools keep the copy published at" in alert
    served = tmp_path / "serving" / "analytics.duckdb"
    assert query(served, "select count(*) from duckdb_tables() where table_name = 'contact_export'") == [(0,)]
    assert query(warehouse, "select count(*) from marts.contact_export") == [(2,)]
    # Data Docs show the failure, the value masked as in the alert: no page holds the address
    pages = [page.read_text(errors="replace") for page in (tmp_path / "data_docs").rglob("*.html")]
    assert any("contact_note" in page for page in pages)
    assert any("j***(email)" in page for page in pages)
    assert not [page for page in pages if PLANTED_EMAIL in page]
