"""Alerts a person can act on: one per problem, within Slack's limits, and never lost silently.

Every check's failure (a GX expectation, a dbt data test, the quarantine rate, source freshness)
is a Problem with a severity: `error` fails the run (exit 1, nothing published), `warn` does not.
A problem is identified by (source, relation, column, check). The warehouse's alert state
(`<warehouse>.alerts.json` beside it) remembers the open ones and since when, so

- a run that finds a new problem posts once, listing it (and any still open, with their age); a
  problem found while no webhook was set, or whose post was refused, counts as new until posted;
- a run that finds only problems already posted posts nothing and says "still failing since T";
- the first run in which an open problem's check passes again posts "resolved".

Why not GX's SlackNotificationAction (which this project used before): it posts one block set per
validation result (98 blocks for 85 suites, Slack takes 50), cannot know what it posted last run,
sees neither dbt's tests nor the quarantine rate, and logs a refused post as one line on stderr
while the run goes on. Here a refused post (HTTP >= 400 or no answer) is retried with backoff and,
if it still fails, fails the run with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Severity = Literal["error", "warn"]
WEBHOOK_VARIABLE = "EVENT_ANALYTICS_ALERT_WEBHOOK"
DATA_DOCS_URL_VARIABLE = "EVENT_ANALYTICS_DATA_DOCS_URL"
# Slack's limits for a message's blocks (api.slack.com/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_LISTED = 10
RETRIES = 3
BACKOFF_SECONDS = 1.0
BACKOFF_VARIABLE = "EVENT_ANALYTICS_ALERT_BACKOFF_SECONDS"  # the first wait; it doubles each retry
TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Problem:
    source: str  # what checked it: `gx:<suite>`, `dbt:<test>`, `quarantine_rate` or `freshness`
    relation: str
    column: str | None
    check: str  # the expectation, test or rule
    severity: Severity
    detail: str
    examples: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return "|".join((self.source, self.relation, self.column or "", self.check))

    def __str__(self) -> str:
        target = f"{self.relation}.{self.column}" if self.column else self.relation
        shown = f" e.g. {', '.join(self.examples)}" if self.examples else ""
        return f"{self.check} failed on {target}: {self.detail}{shown}"


@dataclass
class Triage:
    new: list[Problem] = field(default_factory=list)
    ongoing: list[tuple[Problem, str]] = field(default_factory=list)  # (problem, open since)
    resolved: list[dict[str, Any]] = field(default_factory=list)  # state entries of fixed problems

    @property
    def worth_posting(self) -> bool:
        return bool(self.new or self.resolved)


class AlertError(Exception):
    """The webhook refused the alert or did not answer, after the retries."""


def state_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".alerts.json")


def load_state(warehouse: Path) -> dict[str, dict[str, Any]]:
    try:
        state = json.loads(state_path(warehouse).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def save_state(warehouse: Path, state: dict[str, dict[str, Any]]) -> None:
    path = state_path(warehouse)
    fresh = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fresh.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    os.replace(fresh, path)


def triage(
    problems: list[Problem], state: dict[str, dict[str, Any]], checked: set[str], now: str
) -> tuple[Triage, dict[str, dict[str, Any]]]:
    """Split this run's problems into new and ongoing, find the open problems whose kind of check
    ran this time (`checked`: gx, dbt, quarantine_rate, freshness) and passed, and give the state
    to save."""
    result = Triage()
    found: dict[str, Problem] = {}
    for problem in problems:
        found.setdefault(problem.key, problem)
    updated: dict[str, dict[str, Any]] = {}
    for key, problem in found.items():
        earlier = state.get(key)
        since = earlier["since"] if earlier else now
        # Posted before: ongoing. Open but never posted (no webhook then, or a refused post): new.
        if earlier and earlier.get("posted", True):
            result.ongoing.append((problem, since))
        else:
            result.new.append(problem)
        posted = bool(earlier and earlier.get("posted", True))
        updated[key] = {"since": since, "severity": problem.severity, "problem": str(problem), "posted": posted}
    for key, entry in state.items():
        if key in found:
            continue
        if kind_of(key) in checked:
            if entry.get("posted", True):  # nobody was told of one never posted
                result.resolved.append({"key": key, **entry})
        else:
            updated[key] = entry  # its check did not run: still open
    return result, updated


def mark_posted(state: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {key: {**entry, "posted": True} for key, entry in state.items()}


def kind_of(key: str) -> str:
    """A problem key's kind of check: gx, dbt, quarantine_rate or freshness."""
    return key.split("|", 1)[0].split(":", 1)[0]


@dataclass(frozen=True)
class Headline:
    warehouse: str
    run_id: str
    exit_code: int
    outcome: str  # one line: "validation failed: nothing published", "passed with warnings", ...


def counts(problems: list[Problem]) -> dict[str, int]:
    return {
        "error": sum(p.severity == "error" for p in problems),
        "warn": sum(p.severity == "warn" for p in problems),
    }


def message(headline: Headline, result: Triage, data_docs_url: str | None = None) -> dict[str, Any]:
    """A Slack Block Kit message within Slack's limits: the headline, the first MAX_LISTED
    problems (new first), what was resolved, and Data Docs' link when it is published somewhere."""
    everything = result.new + [p for p, _ in result.ongoing]
    tally = counts(everything)
    title = (
        f"event-analytics: {tally['error']} error(s), {tally['warn']} warning(s)"
        if everything
        else "event-analytics: resolved"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        section(
            f"*{headline.outcome}*\nwarehouse `{headline.warehouse}` · run `{headline.run_id}` · "
            f"exit {headline.exit_code}"
        ),
    ]
    listed = [(p, "new") for p in result.new] + [(p, f"still failing since {since}") for p, since in result.ongoing]
    for problem, status in listed[:MAX_LISTED]:
        icon = ":red_circle:" if problem.severity == "error" else ":warning:"
        blocks.append(section(f"{icon} *{problem.severity}* ({status}) {problem}"))
    if len(listed) > MAX_LISTED:
        blocks.append(section(f"… and {len(listed) - MAX_LISTED} more problem(s)"))
    if result.resolved:
        lines = [f"• {entry.get('problem', entry['key'])}" for entry in result.resolved[:MAX_LISTED]]
        if len(result.resolved) > MAX_LISTED:
            lines.append(f"… and {len(result.resolved) - MAX_LISTED} more")
        blocks.append(section(":white_check_mark: *resolved*\n" + "\n".join(lines)))
    if data_docs_url:
        blocks.append(section(f"<{data_docs_url}|Data Docs>"))
    return {"text": title, "blocks": blocks[:MAX_BLOCKS]}


def section(text: str) -> dict[str, Any]:
    if len(text) > MAX_SECTION_CHARS:
        text = text[: MAX_SECTION_CHARS - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def post(
    webhook: str,
    payload: dict[str, Any],
    retries: int = RETRIES,
    backoff: float | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> None:
    """POST the message; retry an HTTP error or no answer `retries` times, waiting backoff, 2x,
    4x... seconds; AlertError with the last reason if it never got through."""
    if backoff is None:
        backoff = float(os.environ.get(BACKOFF_VARIABLE) or BACKOFF_SECONDS)
    wait = backoff
    body = json.dumps(payload).encode()
    reason = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(wait * 2 ** (attempt - 1))
        request = urllib.request.Request(
            webhook, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the owner's URL)
                response.read()
                return
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace").strip()[:200]
            reason = f"HTTP {exc.code}" + (f" {detail}" if detail else "")
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = f"no answer ({getattr(exc, 'reason', exc)})"
    raise AlertError(f"the alert webhook refused the alert {retries + 1} times: {reason}")


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
