"""Unattended runs as a scheduler and an on-call person see them: exit codes, alerts once,
runs.jsonl, partial settings, flag mode, clock skew, the JSON log. Real DuckDB files, a Slack-like
webhook on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from conftest import message, query, write_lines
from event_analytics.alerts import BACKOFF_VARIABLE, WEBHOOK_VARIABLE
from event_analytics.cli import app
from event_analytics.project import EXIT_CONFIG_ERROR, EXIT_VALIDATION_FAILED
from event_analytics.quality.rates import quarantine_rate_problems, stale_sources
from event_analytics.runlog import read_runs
from event_analytics.state import audited_through
from slack_server import slack_webhook

runner = CliRunner()


def at(minutes: float) -> str:
    """A time relative to now (when called: a test may start long after this module was imported),
    recent data, so the sources are fresh."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return (now + dt.timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def good(prefix: str, count: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        message(f"{prefix}-{i}", at(-60 + i), anonymous_id=f"{prefix}-device", event="page_viewed", **extra)
        for i in range(count)
    ]


def run(landing: Path, warehouse: Path, *extra: str) -> Result:
    return runner.invoke(app, ["run", "--landing", str(landing), "--warehouse", str(warehouse), *extra])


def test_a_failure_alerts_once_then_still_failing_then_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "w" / "events.duckdb"
    # 12 lines, 7 quarantined (58% > max_rejected_share_error 50%): 4 not JSON, 3 without messageId
    write_lines(
        landing / "day1" / "a.jsonl",
        good("a", 5) + ["{not json"] * 4 + [message(None, at(-30), anonymous_id="x") for _ in range(3)],
    )
    monkeypatch.setenv(BACKOFF_VARIABLE, "0.01")
    with slack_webhook() as (url, slack):
        monkeypatch.setenv(WEBHOOK_VARIABLE, url)

        # The webhook refuses 4 times: the run fails with that reason, and the alert is not lost.
        slack.script = [500, 500, 500, 500]
        first = run(landing, warehouse)
        assert first.exit_code == EXIT_VALIDATION_FAILED
        assert first.stderr.strip().splitlines()[-1] == (
            "event-analytics: the alert webhook refused the alert 4 times: HTTP 500 server_error"
        )
        assert slack.attempts == 4 and slack.posts == []
        assert not (tmp_path / "w" / "serving" / "analytics.duckdb").exists()

        # Nothing new: not rebuilt, audited again; the alert not delivered before goes out now.
        second = run(landing, warehouse)
        assert second.exit_code == EXIT_VALIDATION_FAILED
        assert "auditing again, without a build" in second.stderr
        assert len(slack.posts) == 1
        posted = json.dumps(slack.posts[0])
        assert "1 error(s), 0 warning(s)" in posted
        assert "7 of 12 lines quarantined (58.3% > 50.0%); top reasons: invalid_json 4, missing_message_id 3" in posted
        assert (
            second.stderr.strip()
            .splitlines()[-1]
            .startswith("event-analytics: max_rejected_share_error failed on day1: 7 of 12 lines quarantined")
        )

        # The same failure again: no second alert, the terminal says since when.
        third = run(landing, warehouse)
        assert third.exit_code == EXIT_VALIDATION_FAILED
        assert len(slack.posts) == 1
        assert "still failing since" in third.stderr

        # A new day of good lines does not make day1's failure go away: the rate covers every file
        # loaded since the last passed audit.
        write_lines(landing / "day2" / "b.jsonl", good("b", 6))
        fourth = run(landing, warehouse)
        assert fourth.exit_code == EXIT_VALIDATION_FAILED
        assert "still failing since" in fourth.stderr and len(slack.posts) == 1

        # A person reviews day1 and publishes by hand: the files loaded so far are accepted, so the
        # next run (nothing new: audited again) finds the problem resolved and says so once.
        reviewed = runner.invoke(app, ["publish", "--warehouse", str(warehouse)])
        assert reviewed.exit_code == 0, reviewed.output
        assert (tmp_path / "w" / "serving" / "analytics.duckdb").exists()
        fifth = run(landing, warehouse)
        assert fifth.exit_code == 0, fifth.output
        assert "auditing again, without a build" in fifth.stderr
        assert len(slack.posts) == 2
        assert "resolved" in json.dumps(slack.posts[1]) and "7 of 12 lines" in json.dumps(slack.posts[1])

    runs = read_runs(warehouse)
    assert [(r["exit_code"], r["dbt"], r["gx"], r["published"]) for r in runs] == [
        (1, "success", "passed", False),
        (1, "skipped", "passed", False),
        (1, "skipped", "passed", False),
        (1, "success", "passed", False),
        (0, "skipped", "passed", True),
    ]
    assert runs[0]["files_loaded"] == 1 and runs[0]["lines_loaded"] == 12
    assert runs[0]["problems"] == {"error": 1, "warn": 0}
    assert runs[0]["reason"].startswith("the alert webhook refused")
    assert runs[3]["files_loaded"] == 1 and runs[3]["lines_loaded"] == 6
    assert set(runs[3]["seconds"]) >= {"plan", "dbt", "gx"}
    assert runs[4]["reason"] is None and runs[4]["rows"]["marts.fct_events"] == 11
    # dbt's log lives beside the warehouse it built, rotated by size
    assert (tmp_path / "w" / "logs" / "dbt.log").stat().st_size > 0

    # The quarantine rate looks at the files loaded since the last passed audit: day1 stayed in
    # scope through the failed runs (a rerun retrying some file cannot forget it), day2 passed.
    assert quarantine_rate_problems(warehouse, audited_through(warehouse), 0.05, 0.5) == []
    [every_file] = quarantine_rate_problems(warehouse, None, 0.05, 0.5)
    assert (every_file.relation, every_file.severity) == ("day1", "error")  # per folder: 7 of 12
    # Freshness without dbt (a run with nothing to do): the staged events are ~35 minutes old
    [stale] = stale_sources(warehouse, warn_hours=0.1, error_hours=0.2)
    assert (stale.relation, stale.check, stale.severity) == ("staged.events", "source_freshness", "warn")
    assert stale.detail.startswith("newest row 0.") and stale.detail.endswith("; error after 0.2 hour(s)")
    assert stale_sources(warehouse, warn_hours=6, error_hours=24) == []


def test_flag_mode_clock_skew_partial_settings_and_the_json_log(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "w" / "events.duckdb"
    skewed = [
        # a client clock two days ahead: quarantined in enforce mode, never a failed suite
        message("skewed", at(2 * 24 * 60), received_at=at(-1), anonymous_id="s"),
        # 8 minutes ahead of now, within max_future_minutes of its receivedAt: kept, and the
        # suites' "not in the future" expectations allow the same skew
        message("soon", at(8), received_at=at(3), anonymous_id="s", event="page_viewed"),
        # a device clock two days ahead, corrected by Segment's rule: occurred_at = receivedAt; its
        # sentAt and originalTimestamp, kept as sent, lie in the future and fail no suite
        {
            **message("corrected", at(0), received_at=at(-2), anonymous_id="s", event="page_viewed"),
            "timestamp": None,
            "originalTimestamp": at(2 * 24 * 60),
            "sentAt": at(2 * 24 * 60),
        },
    ]
    write_lines(landing / "a.jsonl", good("a", 27) + skewed)
    first = run(landing, warehouse)
    assert first.exit_code == 0, first.output
    assert query(warehouse, "select reason from quarantine.rejected_events") == [("implausible_timestamp",)]
    assert query(warehouse, "select count(*) from marts.fct_events where occurred_at > now()::timestamp") == [(1,)]
    assert query(
        warehouse,
        "select occurred_at = received_at, sent_at > now()::timestamp + interval 1 day "
        "from marts.fct_events where event_id = 'corrected'",
    ) == [(True, True)]

    # flag mode would only reach rows loaded from now on: refused unless accepted
    write_lines(landing / "b.jsonl", [message("unplanned", at(-5), anonymous_id="u", event="coupon_sprayed")])
    refused = run(landing, warehouse, "--vars", "{tracking_plan_mode: flag}")
    assert refused.exit_code == EXIT_CONFIG_ERROR
    last = refused.stderr.strip().splitlines()[-1]
    assert "settings changed since rows were loaded" in last
    assert "follow tracking_plan_mode: enforce, not flag" in last and "--accept-partial-settings" in last

    accepted = run(
        landing, warehouse, "--vars", "{tracking_plan_mode: flag}", "--accept-partial-settings", "--log-format", "json"
    )
    # flag mode lets the unplanned event through: a warning, published, exit 0
    assert accepted.exit_code == 0, accepted.output
    events = [json.loads(line) for line in accepted.stdout.splitlines()]
    kinds = {event["event"] for event in events}
    assert {"stage_start", "stage_end", "node_start", "node_end", "summary", "warning"} <= kinds
    assert any(e["event"] == "node_end" and e["name"] == "fct_events" and e["status"] == "success" for e in events)
    assert any(e["event"] == "warning" and "partial settings" in e["message"] for e in events)
    assert "passed with" in accepted.stderr and "expect_column_values_to_be_in_set" in accepted.stderr
    assert query(warehouse, "select count(*) from marts.fct_events where event_name = 'coupon_sprayed'") == [(1,)]

    # once accepted, the same settings run again without --accept-partial-settings
    write_lines(landing / "c.jsonl", good("c", 3))
    again = run(landing, warehouse, "--vars", "{tracking_plan_mode: flag}")
    assert again.exit_code == 0, again.output
    assert "partial settings: rows loaded since" in again.stderr

    runs = read_runs(warehouse)
    assert [r["exit_code"] for r in runs] == [0, EXIT_CONFIG_ERROR, 0, 0]
    assert runs[1]["reason"].startswith("settings changed since rows were loaded")
    assert runs[2]["problems"]["warn"] >= 1 and runs[2]["published"]


def test_data_docs_keep_the_last_validations_of_each_suite(tmp_path: Path) -> None:
    import os

    from event_analytics.job import prune_data_docs

    for suite in ("schema.marts.a", "pii.marts.b"):
        for i in range(5):
            page = tmp_path / "validations" / suite / f"run-{i}" / f"2026120{i}T000000Z" / "batch.html"
            page.parent.mkdir(parents=True)
            page.write_text("x")
            os.utime(page.parent.parent, (1_800_000_000 + i, 1_800_000_000 + i))
    prune_data_docs(tmp_path, keep=2)
    for suite in ("schema.marts.a", "pii.marts.b"):
        assert sorted(p.name for p in (tmp_path / "validations" / suite).iterdir()) == ["run-3", "run-4"]
