"""Cohort retention on hand-made users: calendar and rolling, week and month grains."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from conftest import build, message, query, write_lines

WEEKLY = [
    # r1: cohort week of Mon 5 Jan; active in week +1 (Mon 12 Jan 09:00), not +2, again +3 (an order).
    message("r1-1", "2026-01-05T10:00:00Z", user_id="r1", type="page"),
    message("r1-2", "2026-01-12T09:00:00Z", user_id="r1", type="page"),
    message("r1-3", "2026-01-26T11:00:00Z", user_id="r1", event="order_completed"),
    # r2: first seen Sunday 11 Jan 23:00 (still the week of 5 Jan), back Monday 00:30 with an order.
    message("r2-1", "2026-01-11T23:00:00Z", user_id="r2", type="page"),
    message("r2-2", "2026-01-12T00:30:00Z", user_id="r2", event="order_completed"),
    # r3: cohort week of 12 Jan, a gap week, active in week +2; the last event in the data.
    message("r3-1", "2026-01-13T10:00:00Z", user_id="r3", type="page"),
    message("r3-2", "2026-01-28T12:00:00Z", user_id="r3", type="page"),
]

MONTHLY = [
    # Cohorts crossing a year: December 2025 and January 2026.
    message("m1-1", "2025-12-15T10:00:00Z", user_id="m1", type="page"),
    message("m1-2", "2026-01-03T10:00:00Z", user_id="m1", type="page"),
    message("m1-3", "2026-02-10T10:00:00Z", user_id="m1", type="page"),
    message("m2-1", "2026-01-20T10:00:00Z", user_id="m2", type="page"),
    message("m2-2", "2026-02-01T10:00:00Z", user_id="m2", type="page"),
    message("m3-1", "2025-12-31T23:59:59Z", user_id="m3", type="page"),
]

JAN5, JAN12 = dt.date(2026, 1, 5), dt.date(2026, 1, 12)


def retention(tmp_path: Path, lines: list, **dbt_vars: object) -> list[tuple]:
    write_lines(tmp_path / "landing" / "e.jsonl", lines)
    build(tmp_path / "landing", tmp_path / "w.duckdb", select="+cohort_retention", **dbt_vars)
    return query(
        tmp_path / "w.duckdb",
        "select cohort_period, period_offset, cohort_users, active_users, retention_rate"
        " from marts.cohort_retention order by 1, 2",
    )


def test_weekly_calendar_with_a_gap_week(tmp_path: Path) -> None:
    assert retention(tmp_path, WEEKLY) == [
        (JAN5, 0, 2, 2, 1.0),
        (JAN5, 1, 2, 2, 1.0),
        (JAN5, 2, 2, 0, 0.0),
        (JAN5, 3, 2, 1, 0.5),
        (JAN12, 0, 1, 1, 1.0),
        (JAN12, 1, 1, 0, 0.0),
        (JAN12, 2, 1, 1, 1.0),
    ]


def test_retention_event_restricts_activity(tmp_path: Path) -> None:
    rows = retention(tmp_path, WEEKLY, retention_event="order_completed")
    # Per user: the cohort of the first event of any kind, offsets of orders only (r3 has none).
    assert query(
        tmp_path / "w.duckdb",
        "select user_key, cohort_period, active_offsets from intermediate.int_retention__user_activity order by 1",
    ) == [("r1", JAN5, [3]), ("r2", JAN5, [1]), ("r3", JAN12, [])]
    assert rows == [
        (JAN5, 0, 2, 2, 1.0),
        (JAN5, 1, 2, 1, 0.5),
        (JAN5, 2, 2, 0, 0.0),
        (JAN5, 3, 2, 1, 0.5),
        (JAN12, 0, 1, 1, 1.0),
        (JAN12, 1, 1, 0, 0.0),
        (JAN12, 2, 1, 0, 0.0),
    ]


def test_weekly_rolling_counts_only_elapsed_intervals(tmp_path: Path) -> None:
    # Latest event: 28 Jan 12:00. r1 (t0 5 Jan 10:00): its 12 Jan 09:00 event is still in interval
    # 0; intervals 0-2 have elapsed. r2 (t0 11 Jan 23:00): intervals 0-1. r3 (t0 13 Jan 10:00):
    # intervals 0-1; its 28 Jan event falls in interval 2, not yet elapsed.
    assert retention(tmp_path, WEEKLY, retention_mode="rolling") == [
        (JAN5, 0, 2, 2, 1.0),
        (JAN5, 1, 2, 0, 0.0),
        (JAN5, 2, 1, 0, 0.0),
        (JAN5, 3, 0, 0, None),
        (JAN12, 0, 1, 1, 1.0),
        (JAN12, 1, 1, 0, 0.0),
        (JAN12, 2, 0, 0, None),
    ]


def test_monthly_calendar_across_a_year(tmp_path: Path) -> None:
    dec, jan = dt.date(2025, 12, 1), dt.date(2026, 1, 1)
    assert retention(tmp_path, MONTHLY, retention_grain="month") == [
        (dec, 0, 2, 2, 1.0),
        (dec, 1, 2, 1, 0.5),
        (dec, 2, 2, 1, 0.5),
        (jan, 0, 1, 1, 1.0),
        (jan, 1, 1, 1, 1.0),
    ]


def test_daily_grain(tmp_path: Path) -> None:
    rows = retention(tmp_path, MONTHLY[:2], retention_grain="day")
    # 15 Dec to 3 Jan: offsets 0..19, active on 0 and 19 only.
    assert len(rows) == 20
    assert [r[1] for r in rows if r[3]] == [0, 19]


def test_bad_grain_fails_the_run(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="retention_grain must be day, week or month"):
        retention(tmp_path, WEEKLY, retention_grain="fortnight")
