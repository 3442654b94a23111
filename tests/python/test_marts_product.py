"""The product marts end to end, on one small hand-made warehouse built the way a run builds it
(`dbt build`: seeds loaded, then models and their data tests). The rules themselves are pinned by
the dbt unit tests (models/*/_unit_tests.yml); here every expected row is worked by hand from the
messages below, through staging, stitching and sessions.

Two users and a crawler, 1-5 October 2026 (UTC):
- u1 on an iPhone (device d1): 1 Oct 10:00 lands on / from a Facebook link without UTM (session A,
  Organic Social), views /products twice (a reload) and /cart, then logs in. 3 Oct 09:00 comes back
  from a Google CPC ad (session B, Paid Search) and orders o1 (100 EUR) at 09:05. 5 Oct 10:00 o1 is
  refunded 30 EUR (session C: no page, no campaign: Direct).
- u2 on Windows Chrome (d2): 1 Oct 12:00 comes from the newsletter (utm_medium=email: session D,
  Email), logs in and orders o2 (50 EUR). 2 Oct 12:00 comes back directly (session E).
- Googlebot (d3) crawls / and /pricing on 2 Oct 08:00 (session F): flagged, never an active user
  or a path.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest

from conftest import message, query, write_lines
from event_analytics.pipeline import run_dbt
from event_analytics.plan import compile_plan, read_plan
from event_analytics.quality.checks import suites_to_run

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
SITE = "https://shop.example.com"
NEW_MARTS = ("active_users", "user_lifecycle", "orders", "revenue_daily", "cohort_revenue", "attribution", "user_paths")


def context(user_agent: str, path: str, referrer: str | None = None, **campaign: str) -> dict[str, Any]:
    page = {"path": path, "url": SITE + path, **({"referrer": referrer} if referrer else {})}
    return {
        "userAgent": user_agent,
        "locale": "en-US" if user_agent != WINDOWS else "de-DE",
        "page": page,
        **({"campaign": campaign} if campaign else {}),
    }


def view(message_id: str, at: str, device: str, user_agent: str, path: str, **extra: Any) -> dict[str, Any]:
    referrer = extra.pop("referrer", None)
    return message(
        message_id,
        at,
        type="page",
        anonymous_id=device,
        context=context(user_agent, path, referrer, **extra),
        properties={"path": path},
    )


def messages() -> list[dict[str, Any]]:
    order = {"products": [{"product_id": "p1", "price": 100, "quantity": 1}], "coupon": "AUTUMN10"}
    return [
        # u1, iPhone
        view("a1", "2026-10-01T10:00:00Z", "d1", IPHONE, "/", referrer="https://l.facebook.com/"),
        view("a2", "2026-10-01T10:01:00Z", "d1", IPHONE, "/products"),
        view("a3", "2026-10-01T10:02:00Z", "d1", IPHONE, "/products"),
        view("a4", "2026-10-01T10:03:00Z", "d1", IPHONE, "/cart"),
        message("a5", "2026-10-01T10:04:00Z", type="identify", anonymous_id="d1", user_id="u1"),
        view("b1", "2026-10-03T09:00:00Z", "d1", IPHONE, "/", source="google", medium="cpc", name="autumn"),
        message(
            "b2",
            "2026-10-03T09:05:00Z",
            event="order_completed",
            anonymous_id="d1",
            user_id="u1",
            context=context(IPHONE, "/checkout"),
            properties={"order_id": "o1", "revenue": 100, "currency": "EUR", **order},
        ),
        message(
            "c1",
            "2026-10-05T10:00:00Z",
            event="order_refunded",
            anonymous_id="d1",
            user_id="u1",
            context={"userAgent": IPHONE},
            properties={"order_id": "o1", "total": 30, "currency": "EUR"},
        ),
        # u2, Windows
        view("d1", "2026-10-01T12:00:00Z", "d2", WINDOWS, "/pricing", source="newsletter", medium="email"),
        message("d2", "2026-10-01T12:01:00Z", type="identify", anonymous_id="d2", user_id="u2"),
        message(
            "d3",
            "2026-10-01T12:05:00Z",
            event="order_completed",
            anonymous_id="d2",
            user_id="u2",
            context={"userAgent": WINDOWS},
            properties={"order_id": "o2", "revenue": 50, "currency": "EUR"},
        ),
        view("e1", "2026-10-02T12:00:00Z", "d2", WINDOWS, "/pricing"),
        # a crawler
        view("f1", "2026-10-02T08:00:00Z", "d3", GOOGLEBOT, "/"),
        view("f2", "2026-10-02T08:01:00Z", "d3", GOOGLEBOT, "/pricing"),
    ]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("product")
    write_lines(root / "landing" / "2026-10-05.jsonl", messages())
    result = run_dbt("build", landing=root / "landing", warehouse=root / "w.duckdb")
    assert result.ok, result.failure_reason() + "\n" + result.output[-3000:]
    return root / "w.duckdb"


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_sessions_take_channel_and_device_from_their_first_event(warehouse: Path) -> None:
    rows = query(
        warehouse,
        "select anonymous_id, strftime(started_at, '%d %H:%M'), channel_group, device_category, browser_family,"
        " os_family, is_bot, locale from marts.fct_sessions order by started_at",
    )
    assert rows == [
        ("d1", "01 10:00", "Organic Social", "mobile", "Safari", "iOS", False, "en-US"),
        ("d2", "01 12:00", "Email", "desktop", "Chrome", "Windows", False, "de-DE"),
        ("d3", "02 08:00", "Direct", "bot", "Googlebot", "Other", True, "en-US"),
        ("d2", "02 12:00", "Direct", "desktop", "Chrome", "Windows", False, "de-DE"),
        ("d1", "03 09:00", "Paid Search", "mobile", "Safari", "iOS", False, "en-US"),
        ("d1", "05 10:00", "Direct", "mobile", "Safari", "iOS", False, None),
    ]
    # an event takes its session's channel and its own user agent's device
    assert query(
        warehouse,
        "select event_id, channel_group, device_category, utm_source, utm_medium, utm_campaign"
        " from marts.fct_events where event_id in ('b1', 'b2') order by 1",
    ) == [("b1", "Paid Search", "mobile", "google", "cpc", "autumn"), ("b2", "Paid Search", "mobile", None, None, None)]


def test_the_user_agent_never_reaches_a_mart(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = con.execute(
            "select table_name, column_name from information_schema.columns where table_schema = 'marts'"
        ).fetchall()
        assert [c for c in columns if c[1] in {"user_agent", "ip"}] == []
        text = "\n".join(
            str(row)
            for table in sorted({t for t, _ in columns})
            for row in con.execute(f"select * from marts.{table}").fetchall()
        )
    assert "Mozilla" not in text and "Googlebot/2.1" not in text


def test_orders_refunds_and_revenue_per_day(warehouse: Path) -> None:
    assert query(
        warehouse,
        "select order_id, user_key, revenue, currency, coupon, products_count, channel_group, is_first_order,"
        " refunded_revenue from marts.orders order by 1",
    ) == [
        ("o1", "u1", 100.0, "EUR", "AUTUMN10", 1, "Paid Search", True, 30.0),
        ("o2", "u2", 50.0, "EUR", None, None, "Email", True, 0.0),
    ]
    # the refund is netted on 5 October, in o1's channel: 3 October keeps its 100
    assert query(
        warehouse,
        "select date_day, channel_group, currency, orders, buyers, refunds, revenue, average_order_value"
        " from marts.revenue_daily order by 1, 2",
    ) == [
        (day("2026-10-01"), "Email", "EUR", 1, 1, 0, 50.0, 50.0),
        (day("2026-10-03"), "Paid Search", "EUR", 1, 1, 0, 100.0, 100.0),
        (day("2026-10-05"), "Paid Search", "EUR", 0, 0, 1, -30.0, None),
    ]
    # one cohort (week of 28 Sep: u1 and u2; the crawler is nobody's customer), weeks 0 and 1 of the
    # data: 100 + 50 - 30 = 120 in week 0 (u1's refund on 5 Oct is 4 days after u1's first event)
    assert query(
        warehouse,
        "select cohort_week, currency, weeks_since_first_seen, cohort_users, buyers, revenue, cumulative_revenue,"
        " cumulative_revenue_per_user from marts.cohort_revenue order by 3",
    ) == [
        (day("2026-09-28"), "EUR", 0, 2, 2, 120.0, 120.0, 60.0),
        (day("2026-09-28"), "EUR", 1, 2, 0, 0.0, 120.0, 60.0),
    ]


def test_attribution_credits_the_first_and_last_touch_and_splits_linearly(warehouse: Path) -> None:
    assert query(
        warehouse,
        "select order_id, channel_group, touch_index, first_touch_channel, last_touch_channel, first_touch_credit,"
        " last_touch_credit, linear_revenue from marts.attribution order by 1, 3",
    ) == [
        ("o1", "Organic Social", 1, "Organic Social", "Paid Search", 1.0, 0.0, 50.0),
        ("o1", "Paid Search", 2, "Organic Social", "Paid Search", 0.0, 1.0, 50.0),
        ("o2", "Email", 1, "Email", "Email", 1.0, 1.0, 50.0),
    ]


def test_active_users_and_lifecycle_leave_the_crawler_out(warehouse: Path) -> None:
    assert query(
        warehouse,
        "select date_day, active_users from marts.active_users where grain = 'day' order by 1",
    ) == [
        (day("2026-10-01"), 2),
        (day("2026-10-02"), 1),  # u2; the crawler is no user
        (day("2026-10-03"), 1),
        (day("2026-10-04"), 0),
        (day("2026-10-05"), 1),
    ]
    assert query(
        warehouse, "select active_users, stickiness from marts.active_users where grain = 'month' order by date_day"
    )[-1] == (2, 0.5)
    assert query(
        warehouse,
        "select period_start, new_users, returning_users, resurrecting_users, dormant_users"
        " from marts.user_lifecycle where grain = 'day' order by 1",
    ) == [
        (day("2026-10-01"), 2, 0, 0, 0),
        (day("2026-10-02"), 0, 1, 0, -1),
        (day("2026-10-03"), 0, 0, 1, -1),
        (day("2026-10-04"), 0, 0, 0, -1),
        (day("2026-10-05"), 0, 0, 1, 0),
    ]


def test_paths_collapse_the_reload_and_leave_the_crawler_out(warehouse: Path) -> None:
    assert query(
        warehouse, "select step_index, from_path, to_path, sessions, pair_rank from marts.user_paths order by 1, 5"
    ) == [
        (1, "/pricing", "(exit)", 2, 1),
        (1, "/", "(exit)", 1, 2),
        (1, "/", "/products", 1, 3),
        (2, "/products", "/cart", 1, 1),
        (3, "/cart", "(exit)", 1, 1),
    ]


def test_the_new_marts_have_schema_and_pii_suites(warehouse: Path) -> None:
    suites, missing = suites_to_run(warehouse, compile_plan(read_plan()))
    names = {suite["name"] for suite in suites}
    for mart in NEW_MARTS:
        assert {f"schema.marts.{mart}", f"pii.marts.{mart}"} <= names
    assert [failure for failure in missing if failure.relation.startswith("marts.")] == []
