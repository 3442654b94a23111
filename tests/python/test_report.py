"""The HTML report (`event-analytics report`, and every publish): real numbers from a hand-made
landing folder, worked out by hand below; no network; user data cannot inject markup; empty marts;
and headless Chromium drawing every chart.

One `run` (dbt build, GX suites, publish) serves the whole module: the other tests read its
serving copy or publish it elsewhere without dbt.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from browser import render
from conftest import message, write_lines
from event_analytics import report as report_module
from event_analytics.cli import app
from event_analytics.project import EXIT_CONFIG_ERROR, project_dir
from event_analytics.report import wilson, write_report
from event_analytics.serving import publish

runner = CliRunner()

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
INJECTED_EXPERIMENT = "<img src=x onerror=alert(1)>"
INJECTED_VARIANT = "</svg><script>alert(1)</script>"
SCREENSHOT = project_dir() / ".test" / "screenshots" / "report.png"


def at(day: int, time: str) -> str:
    return f"2026-10-{day:02d}T{time}Z"


class Events:
    """Messages with unique ids."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any] | str] = []

    def track(self, user: str, event: str, when: str, context: Any = None, **properties: Any) -> dict[str, Any]:
        extra = {"properties": properties} if properties else {}
        if event == "order_completed":  # each order its own id; 10 EUR unless said
            extra["properties"] = {"order_id": f"o-{user}", "revenue": 10, "currency": "EUR", **properties}
        if context:
            extra["context"] = context
        line = message(f"m{len(self.lines)}", when, user_id=user, event=event, **extra)
        self.lines.append(line)
        return line

    def page(self, user: str, when: str) -> None:
        self.lines.append(message(f"m{len(self.lines)}", when, type="page", user_id=user))


def landing_lines() -> tuple[list[Any], list[Any]]:
    """Two files: the first week (Oct 1 to 7) and the second (Oct 8 to 14, the latest day)."""
    first = second = Events()
    # u1: signs up on Oct 1 (page 09:00, started +60 s, completed +120 s), then the whole checkout
    # funnel on Oct 2: +60 s, +120 s, +180 s between the steps. 7 events, 2 sessions.
    first.page("u1", at(1, "09:00:00"))
    first.track("u1", "signup_started", at(1, "09:01:00"))
    first.track("u1", "signup_completed", at(1, "09:03:00"))
    for step, time in zip(
        ("product_viewed", "product_added", "checkout_started", "order_completed"),
        ("10:00:00", "10:01:00", "10:03:00", "10:06:00"),
        strict=True,
    ):
        first.track("u1", step, at(2, time))
    # u2: viewed and added 300 s later on Oct 3: level 2. 2 events, 1 session.
    first.track("u2", "product_viewed", at(3, "10:00:00"))
    first.track("u2", "product_added", at(3, "10:05:00"))
    week = len(first.lines)  # the second file's lines follow
    # u3: a view on Oct 9 (level 1); u6: a view on Oct 12 (level 1)
    duplicated = second.track("u3", "product_viewed", at(9, "10:00:00"))
    second.track("u6", "product_viewed", at(12, "09:00:00"))
    # u4: the whole funnel on Oct 10: +120 s, +60 s, +600 s, from a Google CPC ad on an iPhone
    # (Paid Search, mobile), an order of 40 EUR, of which 15 are refunded 7 minutes later. 5 events,
    # 1 session.
    ad = {"userAgent": IPHONE, "campaign": {"source": "google", "medium": "cpc"}}
    for step, time in zip(
        ("product_viewed", "product_added", "checkout_started", "order_completed"),
        ("10:00:00", "10:02:00", "10:03:00", "10:13:00"),
        strict=True,
    ):
        extra = {"revenue": 40} if step == "order_completed" else {}
        second.track("u4", step, at(10, time), context=ad if step == "product_viewed" else None, **extra)
    second.track("u4", "order_refunded", at(10, "10:20:00"), order_id="o-u4", total=15, currency="EUR")
    # u5: a page on Oct 11, signup started 30 s later, never completed. 2 events, 1 session.
    second.page("u5", at(11, "11:00:00"))
    second.track("u5", "signup_started", at(11, "11:00:30"))
    # An experiment with a hostile id and variant: 10 and 12 users; 3 and 6 order 5 minutes after
    # exposure on Oct 13, and one of the 12 has a failed checkout (the guardrail). 32 events, 22
    # users, 22 sessions. (Not 10 against 10: macros/analysis/
    # statistics.sql's erfc(0) is 1.00000003, so a perfect split's SRM p-value, or equal rates'
    # p-value, is above 1 and fails the marts' range test.)
    for variant, users, converters in (("control", 10, 3), (INJECTED_VARIANT, 12, 6)):
        for i in range(users):
            user = f"a-{'c' if variant == 'control' else 't'}{i}"
            second.track(
                user, "experiment_viewed", at(13, "12:00:00"), experiment_id=INJECTED_EXPERIMENT, variant=variant
            )
            if i < converters:
                second.track(user, "order_completed", at(13, "12:05:00"))
            if variant != "control" and i == 0:
                second.track(user, "checkout_failed", at(13, "12:06:00"))
    # A sample ratio mismatch: 40 control users against 10 (equal split expected), 4 and 2 order,
    # on Oct 14. 56 events, 50 users, 50 sessions.
    for variant, users, converters in (("control", 40, 4), ("treatment", 10, 2)):
        for i in range(users):
            user = f"b-{variant}{i}"
            second.track(user, "experiment_viewed", at(14, "08:00:00"), experiment_id="srm_test", variant=variant)
            if i < converters:
                second.track(user, "order_completed", at(14, "08:05:00"))
    # quarantined: 2 invalid_json, 1 missing_message_id; 1 duplicate copy of u3's view
    missing_id = message(None, at(9, "11:00:00"), user_id="u3")
    bad: list[Any] = ["{not json", "[1, 2", missing_id, dict(duplicated)]
    return first.lines[:week], second.lines[week:] + bad


# Worked out from the lines above. The period is Oct 8 to 14 (the latest day with an event is Oct
# 14), the previous one Oct 1 to 7.
EVENTS_CURRENT = 1 + 1 + 5 + 2 + 32 + 56  # u3, u6, u4, u5, experiment A, experiment B = 97
EVENTS_PREVIOUS = 7 + 2  # u1, u2 = 9
USERS_CURRENT = 4 + 22 + 50  # 76
SESSIONS_CURRENT = 4 + 22 + 50  # 76
SESSIONS_PREVIOUS = 2 + 1  # 3


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("report")
    first, second = landing_lines()
    write_lines(root / "landing" / "2026-10-07.jsonl", first)
    write_lines(root / "landing" / "2026-10-14.jsonl", second)
    warehouse = root / "w" / "events.duckdb"
    result = runner.invoke(app, ["run", "--landing", str(root / "landing"), "--warehouse", str(warehouse)])
    assert result.exit_code == 0, result.output
    serving = root / "w" / "serving"
    assert f"report: {serving / 'report.html'}" in result.stderr
    return {"root": root, "warehouse": warehouse, "serving": serving, "report": serving / "report.html"}


def text_of(html: str) -> str:
    """The page's text as it reads (charts and styles left out), entities kept as written, so
    that escaping stays visible."""
    text = re.sub(r"<(svg|style|title)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"</?(strong|code|span|a)\b[^>]*>", "", text)  # inline: no space
    return re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", text))


def test_the_published_report_shows_the_hand_worked_numbers(published: dict[str, Path]) -> None:
    html = published["report"].read_text()
    text = text_of(html)
    manifest = json.loads((published["serving"] / "manifest.json").read_text())
    # what it covers, when it was published
    assert f"Published at {manifest['published_at']} (publish id {manifest['publish_id']})" in text
    lines = sum(1 for f in (published["root"] / "landing").iterdir() for line in f.read_text().splitlines() if line)
    assert manifest["landing"] == {"files": 2, "lines": lines}
    assert f"covering 2 landing files / {lines} lines" in text

    # headline numbers: the period, and each number with its change
    assert "2026-10-08 to 2026-10-14 (UTC days), against the 7 days before, 2026-10-01 to 2026-10-07" in text
    assert f"Events {EVENTS_CURRENT} ▲ +977.8% vs {EVENTS_PREVIOUS}" in text  # 97 / 9 - 1
    assert f"Sessions {SESSIONS_CURRENT} ▲ +2433.3% vs {SESSIONS_PREVIOUS}" in text  # 76 / 3 - 1
    assert f"Active users {USERS_CURRENT} ▲ +3700.0% vs 2" in text  # 76 / 2 - 1
    # checkout: entered u3, u4, u6, u4 completed (1/3) against u1, u2, u1 completed (1/2)
    assert "checkout conversion 33.3% ▼ -16.7 pp vs 50.0% 1 of 3 who entered completed" in text
    assert "signup conversion 0.0% ▼ -100.0 pp vs 100.0%" in text
    # DAU/MAU on Oct 14: experiment B's 50 of the 78 users active since Sep 17; on Oct 7 none of 2
    assert "Stickiness (DAU/MAU) 64.1% ▲ +64.1 pp vs 0.0%" in text
    # orders: u4's and the experiments' 9 and 6 against u1's; 40 + 150 - 15 EUR against 10
    assert "Orders 16 ▲ +1500.0% vs 1" in text
    assert "Net revenue (EUR) 175 ▲ +1650.0% vs 10 orders less refunds, each on its day" in text

    # channels in the period: u4's session from the ad, the 75 others direct (none the week
    # before but 3 direct); bounces: u3, u6 and the 57 experiment users who only saw it, of 75
    assert "Direct 75 3 78.7% 15 150.00 EUR" in text
    assert "Paid Search 1 0 0.0% 1 25.00 EUR" in text
    assert "unknown 75 98.7% 78.7%" in text and "mobile 1 1.3% 0.0%" in text
    # active users on the last day; revenue per day, the refund netted on its day
    assert "On 2026-10-14: 50 daily, 76 weekly, 78 monthly active users." in text
    assert "2026-10-02 EUR 1 10.00 10.00" in text and "2026-10-10 EUR 1 40.00 25.00" in text
    assert "2026-10-13 EUR 9 90.00 90.00" in text and "2026-10-14 EUR 6 60.00 60.00" in text

    # per day: every day from the first to the last, empty days as 0
    assert "2026-10-05 0 0 0" in text
    assert "2026-10-13 32 22 22" in text and "2026-10-14 56 50 50" in text

    # the checkout funnel: 5, 3, 2, 2 users; medians of (60, 300, 120), (120, 60), (180, 600) s
    assert "1. product_viewed 5 100.0% 100.0% –" in text
    assert "2. product_added 3 60.0% 60.0% 2 min 0 s" in text
    assert "3. checkout_started 2 40.0% 66.7% 1 min 30 s" in text
    assert "4. order_completed 2 40.0% 100.0% 6 min 30 s" in text
    # signup: u1 (60 s, then 120 s) and u5 (30 s)
    assert "2. signup_started 2 100.0% 100.0% 45 s" in text
    assert "3. signup_completed 1 50.0% 50.0% 2 min 0 s" in text

    # retention, weekly cohorts from Monday: Sep 28 (u1, u2), Oct 5 (u3, u4, u5), Oct 12 (the rest)
    assert "2026-09-28 2 100.0% 0.0% 0.0%" in text
    assert "2026-10-05 3 100.0% 0.0%" in text
    assert "2026-10-12 73 100.0%" in text

    # experiments: Wilson 95% intervals of 3/10 and 6/12, worked out by hand:
    # centre (p + z²/2n) / (1 + z²/n), half-width z √(p(1-p)/n + z²/4n²) / (1 + z²/n)
    assert "control 10 3 30.0% 10.8% to 60.3%" in text
    assert "12 6 50.0% 25.4% to 74.6% +20.0 pp" in text
    # 10 against 12: chi-square 2 (1/11) = 0.18 on 1 degree of freedom, p = erfc(√(1/11)) = 0.670
    assert "SRM check passed (p = 0.670)" in text
    # 40 against 10: chi-square 18, p = erfc(3) = 2.2e-05
    assert "Sample ratio mismatch (p = 2.2e-05)" in text
    assert "control 40 4 10.0%" in text and "treatment 10 2 20.0%" in text
    # the guardrail: 0 of 10 against 1 of 12 (8.3%)
    assert "checkout_failed control 0.0% – –" in text
    assert "&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt; 8.3% +8.3 pp" in text

    # data quality: the run's suites passed; 3 lines quarantined, 1 duplicate, no file rejected
    quality = manifest["quality"]
    assert dt.datetime.fromisoformat(quality["rejected_files"].pop("latest_build")) <= dt.datetime.now(dt.UTC).replace(
        tzinfo=None
    )
    assert quality == {
        "suites": {
            "status": "passed",
            "detail": "dbt's data tests and the GX suites passed in the run that published",
        },
        "quarantined": {"total": 3, "by_reason": {"invalid_json": 2, "missing_message_id": 1}},
        "duplicates": 1,
        "rejected_files": {"files": 0, "by_reason": {}},
    }
    assert "Audit before this publish: passed" in text
    assert "Lines quarantined (quarantine.rejected_events) 3" in text
    assert "invalid_json 2" in text and "missing_message_id 1" in text
    assert "Duplicate copies discarded (quarantine.duplicate_events) 1" in text
    assert "Landing files rejected by the latest build (no line of them loaded) 0" in text


def test_the_hand_worked_intervals_are_wilsons() -> None:
    from scipy import stats

    for successes, trials, low, high in ((3, 10, 0.1078, 0.6032), (6, 12, 0.2538, 0.7462)):
        interval = stats.binomtest(successes, trials).proportion_ci(method="wilson")
        assert wilson(successes, trials) == pytest.approx((interval.low, interval.high), abs=1e-12)
        assert wilson(successes, trials) == pytest.approx((low, high), abs=5e-5)
    # the SRM p-values above
    assert (
        stats.chisquare([10, 12]).pvalue
        == pytest.approx(math.erfc(math.sqrt(1 / 11)))
        == pytest.approx(0.6698, abs=1e-4)
    )
    assert stats.chisquare([40, 10]).pvalue == pytest.approx(math.erfc(3)) == pytest.approx(2.2090e-05, rel=1e-4)
    assert wilson(0, 0) is None and wilson(0, 5)[0] == 0.0


class Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_no_network_and_no_injection(published: dict[str, Path]) -> None:
    html = published["report"].read_text()
    parser = Markup()
    parser.feed(html)
    tags = {tag for tag, _ in parser.tags}
    assert {"svg", "table", "style"} <= tags
    assert not tags & {"script", "img", "link", "iframe", "object", "embed", "base", "form"}, tags
    for tag, attributes in parser.tags:
        assert not [name for name in attributes if name.startswith("on")], (tag, attributes)
        for name in ("src", "href", "xlink:href", "action"):
            value = attributes.get(name)
            assert value is None or value.startswith("#"), (tag, name, value)  # in-page links only
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)
    assert "@import" not in html and "url(http" not in html and "@font-face" not in html
    assert "default-src 'none'" in html  # and the page forbids scripts and requests itself
    # the hostile names are shown as text, escaped; in the charts they are drawn as paths
    assert "<script" not in html and "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'id="chart-experiment-img-src-x-onerror-alert-1"' in html
    # each chart's ids are its own
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))


def test_a_browser_draws_every_chart(published: dict[str, Path]) -> None:
    rendered = render(published["report"].resolve().as_uri(), SCREENSHOT)
    assert rendered.console_errors == []
    assert rendered.failed_requests == []
    charts = {chart["id"]: chart for chart in rendered.charts}
    expected = {
        "chart-daily",
        "chart-channels",
        "chart-active-users",
        "chart-revenue",
        "chart-funnel-checkout",
        "chart-funnel-signup",
        "chart-retention",
        "chart-experiment-img-src-x-onerror-alert-1",
        "chart-experiment-srm_test",
        "chart-quarantine",
    }
    assert set(charts) == expected
    for chart_id, chart in charts.items():
        assert chart["tag"] == "svg", chart_id
        assert chart["width"] > 200 and chart["height"] > 100, chart
        assert chart["elements"] >= 30, chart
    assert INJECTED_VARIANT in rendered.text and INJECTED_EXPERIMENT in rendered.text
    assert SCREENSHOT.stat().st_size > 10_000


def test_publish_by_hand_says_the_suites_did_not_run(published: dict[str, Path]) -> None:
    other = published["root"] / "by-hand"
    result = runner.invoke(app, ["publish", "--warehouse", str(published["warehouse"]), "--serving", str(other)])
    assert result.exit_code == 0, result.output
    assert f"report: {other / 'report.html'}" in result.stderr
    manifest = json.loads((other / "manifest.json").read_text())
    assert manifest["quality"]["suites"]["status"] == "not run"
    assert "Audit before this publish: not run published by hand" in text_of((other / "report.html").read_text())


def test_a_report_that_fails_fails_the_publish_and_changes_nothing(
    published: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    serving = published["root"] / "failing"
    publish(published["warehouse"], serving)
    before = {path: path.read_bytes() for path in serving.rglob("*") if path.is_file()}
    names = sorted(p.name for p in serving.iterdir())

    def broken(*_: Any) -> str:
        raise RuntimeError("no report today")

    monkeypatch.setattr(report_module, "render_report", broken)
    with pytest.raises(RuntimeError, match="no report today"):
        publish(published["warehouse"], serving)
    assert {path: path.read_bytes() for path in serving.rglob("*") if path.is_file()} == before
    assert sorted(p.name for p in serving.iterdir()) == names  # no temporary file left


def test_the_report_command(published: dict[str, Path], tmp_path: Path) -> None:
    # elsewhere, from the serving copy alone
    out = tmp_path / "deep" / "r.html"
    result = runner.invoke(app, ["report", "--serving", str(published["serving"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"wrote {out}"
    assert f"Events {EVENTS_CURRENT}" in text_of(out.read_text())
    # by default into the serving folder
    result = runner.invoke(app, ["report", "--serving", str(published["serving"])])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"wrote {published['report']}"
    # nothing published: one line, exit 2
    for serving in (tmp_path / "none", tmp_path):
        result = runner.invoke(app, ["report", "--serving", str(serving)])
        assert result.exit_code == EXIT_CONFIG_ERROR, result.output
        assert result.stderr.strip().splitlines() == [
            f"event-analytics: no serving copy published in {serving}: run event-analytics run first"
        ]
    assert not (tmp_path / "none").exists()


def empty_copy(published: dict[str, Path], target: Path, kept: tuple[str, ...]) -> Path:
    """A serving copy with the published marts' columns, rows only in `kept`, and an old manifest."""
    target.mkdir()
    with duckdb.connect(str(target / "analytics.duckdb")) as con:
        con.execute(f"attach '{published['serving'] / 'analytics.duckdb'}' as source (read_only)")
        con.execute("create schema marts")
        for (name,) in con.execute("select table_name from duckdb_tables() where database_name = 'source'").fetchall():
            where = "" if name in kept else " where false"
            con.execute(f"create table marts.{name} as select * from source.marts.{name}{where}")
    manifest = json.loads((published["serving"] / "manifest.json").read_text())
    del manifest["quality"]  # as a publish from before the report wrote it
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


@pytest.mark.parametrize(
    ("kept", "absent"),
    [
        (
            (),
            [
                "No event in the serving copy: no headline numbers",
                "No event in the serving copy.",
                "No session in the serving copy.",
            ],
        ),
        (("fct_events", "fct_sessions", "dim_users"), []),
    ],
)
def test_empty_marts_say_so(
    published: dict[str, Path], tmp_path: Path, kept: tuple[str, ...], absent: list[str]
) -> None:
    serving = empty_copy(published, tmp_path / "serving", kept)
    text = text_of(write_report(serving, tmp_path / "r.html").read_text())
    for sentence in [
        "No funnel in the serving copy",
        "No cohort in the serving copy.",
        "No experiment in the serving copy",
        "This publish recorded no data-quality status",
        "No active user in the serving copy.",
        "No order in the serving copy.",
        *absent,
    ]:
        assert sentence in text
    if kept:
        assert f"Events {EVENTS_CURRENT}" in text and "checkout conversion" not in text
