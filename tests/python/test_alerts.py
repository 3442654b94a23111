"""Alerts: one per problem, within Slack's limits, retried, and never refused silently."""

from __future__ import annotations

import json

import pytest

from event_analytics.alerts import AlertError, Headline, Problem, Triage, mark_posted, message, post, triage
from slack_server import slack_refusal, slack_webhook

HEADLINE = Headline("/srv/warehouse/events.duckdb", "20261207T050000Z", 1, "validation failed: nothing published")


def problem(i: int, severity: str = "error", detail: str = "3 unexpected of 10 rows") -> Problem:
    return Problem(
        f"gx:schema.marts.t{i}", f"marts.t{i}", "occurred_at", "expect_column_values_to_be_between", severity, detail
    )


def test_a_message_about_85_problems_stays_within_slacks_limits() -> None:
    many = Triage(new=[problem(i, detail="x" * 5000) for i in range(85)])
    sent = message(HEADLINE, many)
    assert slack_refusal(sent) is None
    assert len(sent["blocks"]) == 2 + 10 + 1  # headline, 10 problems, "and 75 more"
    assert sent["blocks"][-1]["text"]["text"] == "… and 75 more problem(s)"
    assert "85 error(s), 0 warning(s)" in sent["text"]
    assert "file://" not in json.dumps(sent)


def test_data_docs_link_only_when_published_somewhere() -> None:
    assert "Data Docs" not in json.dumps(message(HEADLINE, Triage(new=[problem(1)])))
    linked = message(HEADLINE, Triage(new=[problem(1)]), "https://docs.example.com/dq/index.html")
    assert linked["blocks"][-1]["text"]["text"] == "<https://docs.example.com/dq/index.html|Data Docs>"


def test_triage_new_then_still_failing_then_resolved() -> None:
    a, b = problem(1), problem(2, "warn")
    first, state = triage([a, b], {}, {"gx"}, "2026-12-07T01:00:00+00:00")
    assert first.new == [a, b] and first.worth_posting
    # not posted (no webhook set, or the post was refused): still new next time, since unchanged
    unposted, state = triage([a, b], state, {"gx"}, "2026-12-07T01:30:00+00:00")
    assert unposted.new == [a, b] and state[a.key]["since"] == "2026-12-07T01:00:00+00:00"
    state = mark_posted(state)
    # the same problems again: nothing new, nothing to post, both open since the first run
    again, state = triage([a, b], state, {"gx"}, "2026-12-07T02:00:00+00:00")
    assert again.new == [] and not again.worth_posting
    assert again.ongoing == [(a, "2026-12-07T01:00:00+00:00"), (b, "2026-12-07T01:00:00+00:00")]
    # a run whose GX suites did not run (dbt failed first) cannot say they were fixed
    unchecked, state = triage([], state, {"dbt"}, "2026-12-07T03:00:00+00:00")
    assert unchecked.resolved == [] and set(state) == {a.key, b.key}
    # b fixed: resolved, posted once; a still open
    fixed, state = triage([a], state, {"gx", "dbt"}, "2026-12-07T04:00:00+00:00")
    assert [entry["key"] for entry in fixed.resolved] == [b.key] and fixed.worth_posting
    assert set(state) == {a.key}
    text = json.dumps(message(HEADLINE, fixed))
    assert "still failing since 2026-12-07T01:00:00+00:00" in text and "resolved" in text


def test_post_retries_with_backoff_then_succeeds() -> None:
    with slack_webhook() as (url, slack):
        slack.script = [500, 503]
        post(url, message(HEADLINE, Triage(new=[problem(1)])), backoff=0.01)
        assert slack.attempts == 3 and len(slack.posts) == 1


def test_a_refused_alert_is_an_error_after_three_retries() -> None:
    with slack_webhook() as (url, slack):
        oversized = {"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "y"}}] * 51}
        with pytest.raises(AlertError, match=r"refused the alert 4 times: HTTP 400 invalid_blocks"):
            post(url, oversized, backoff=0.01)
        assert slack.attempts == 4 and slack.posts == []


def test_no_answer_is_an_error_too() -> None:
    with slack_webhook() as (url, slack):
        slack.script = ["hang"] * 4
        with pytest.raises(AlertError, match="no answer"):
            post(url, {"text": "x"}, backoff=0.01, timeout=0.3)
        assert slack.attempts == 4
