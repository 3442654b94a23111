"""Funnel semantics on hand-made users, and a property test against a brute-force reference."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import build, message, query, write_lines
from event_analytics.pipeline import run_dbt

D1 = dt.datetime(2026, 10, 1, 10, 0, tzinfo=dt.UTC)


def at(days: float = 0, seconds: float = 0, ms: int = 0) -> str:
    moment = D1 + dt.timedelta(days=days, seconds=seconds, milliseconds=ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


MESSAGE_NUMBERS = itertools.count(1)


def track(user: str, event: str, when: str, **properties: Any) -> dict[str, Any]:
    return message(f"{user}-{next(MESSAGE_NUMBERS)}", when, user_id=user, event=event, properties=properties)


VIEWED, ADDED, CHECKOUT, ORDERED = "product_viewed", "product_added", "checkout_started", "order_completed"

FUNNEL_CASES = [
    # f1: the first attempt stalls (its checkout would be past the window); the second completes.
    track("f1", VIEWED, at(0)),
    track("f1", ADDED, at(0, 300)),
    track("f1", VIEWED, at(9)),
    track("f1", ADDED, at(9, 60)),
    track("f1", CHECKOUT, at(9, 120)),
    track("f1", ORDERED, at(9, 180)),
    # f2: product_added 7 days and 1 ms after the view: past the window.
    track("f2", VIEWED, at(0)),
    track("f2", ADDED, at(7, ms=1)),
    # f3: product_added exactly 7 days after: inside (inclusive).
    track("f3", VIEWED, at(0)),
    track("f3", ADDED, at(7)),
    # f4: equal timestamps never chain.
    track("f4", VIEWED, at(0)),
    track("f4", ADDED, at(0)),
    track("f4", CHECKOUT, at(0, 300)),
    # f5: no step-1 event: not in the funnel.
    track("f5", ADDED, at(0)),
    # f6: added before viewing.
    track("f6", ADDED, at(0)),
    track("f6", VIEWED, at(0, 60)),
    # f7/f8: the filtered funnel only counts views of shoes.
    track("f7", VIEWED, at(0), category="bags"),
    track("f7", ADDED, at(0, 60)),
    track("f8", VIEWED, at(0), category="shoes"),
    track("f8", ADDED, at(0, 60)),
]

FILTERED_FUNNEL = {
    "name": "shoes",
    "steps": [{"event": VIEWED, "where": {"category": "shoes"}}, ADDED],
    "window_days": 1,
}


@pytest.fixture(scope="module")
def funnel_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("funnels")
    write_lines(root / "landing" / "events.jsonl", FUNNEL_CASES)
    checkout = {"name": "checkout", "steps": [VIEWED, ADDED, CHECKOUT, ORDERED], "window_days": 7}
    build(root / "landing", root / "w.duckdb", funnels=[checkout, FILTERED_FUNNEL])
    return root / "w.duckdb"


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def test_funnel_levels_and_attempt_counted(funnel_warehouse: Path) -> None:
    rows = query(
        funnel_warehouse,
        "select funnel_name, user_key, level, entered_at, completed_at from marts.funnel_conversions",
    )
    assert sorted(rows) == sorted(
        [
            ("checkout", "f1", 4, ts(at(9)), ts(at(9, 180))),
            ("checkout", "f2", 1, ts(at(0)), None),
            ("checkout", "f3", 2, ts(at(0)), None),
            ("checkout", "f4", 1, ts(at(0)), None),
            ("checkout", "f6", 1, ts(at(0, 60)), None),
            ("checkout", "f7", 2, ts(at(0)), None),
            ("checkout", "f8", 2, ts(at(0)), None),
            ("shoes", "f8", 2, ts(at(0)), ts(at(0, 60))),
        ]
    )


def test_funnel_steps(funnel_warehouse: Path) -> None:
    rows = query(
        funnel_warehouse,
        "select funnel_name, step_index, step_name, users, conversion_from_start, conversion_from_previous,"
        " median_seconds_from_previous from marts.funnel_steps where breakdown_key is null order by 1, 2",
    )
    assert rows == [
        ("checkout", 1, VIEWED, 7, 1.0, 1.0, None),
        # step 2 seconds: f1 60, f3 604800, f7 60, f8 60 -> median 60
        ("checkout", 2, ADDED, 4, pytest.approx(4 / 7), pytest.approx(4 / 7), 60.0),
        ("checkout", 3, CHECKOUT, 1, pytest.approx(1 / 7), 0.25, 60.0),
        ("checkout", 4, ORDERED, 1, pytest.approx(1 / 7), 1.0, 60.0),
        ("shoes", 1, f"{VIEWED}[category=shoes]", 1, 1.0, 1.0, None),
        ("shoes", 2, ADDED, 1, 1.0, 1.0, 60.0),
    ]


def test_funnel_breakdown_by_first_session_column(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    campaign = {"campaign": {"source": "google"}}
    write_lines(
        landing / "e.jsonl",
        [
            message("g1", at(0), user_id="g", event=VIEWED, context=campaign),
            message("g2", at(0, 5), user_id="g", event=ADDED),
            message("h1", at(0), user_id="h", event=VIEWED),
            message("k1", at(0), user_id="k", event=VIEWED, context=campaign),
        ],
    )
    build(
        landing,
        tmp_path / "w.duckdb",
        funnel_breakdowns=["utm_source"],
        funnels=[{"name": "two", "steps": [VIEWED, ADDED], "window_days": 1}],
    )
    rows = query(
        tmp_path / "w.duckdb",
        "select breakdown_key, breakdown_value, step_index, users, conversion_from_start from marts.funnel_steps"
        " order by 1 nulls first, 2 nulls first, 3",
    )
    assert rows == [
        (None, None, 1, 3, 1.0),
        (None, None, 2, 1, pytest.approx(1 / 3)),
        ("utm_source", None, 1, 1, 1.0),
        ("utm_source", None, 2, 0, 0.0),
        ("utm_source", "google", 1, 2, 1.0),
        ("utm_source", "google", 2, 1, 0.5),
    ]


# --- property test: the SQL level equals an exhaustive search on random small sequences ---------

STEPS = ["a", "b", "a", "c"]
WINDOW_DAYS = 1
UNIT = dt.timedelta(hours=6)  # four units make the window: ties and window edges come up often


def brute_force_attempts(events: list[tuple[str, int]]) -> dict[int, int]:
    """Each step-1 time's longest chain e1 < e2 < ... (strictly later), every step within the window
    of e1, any choice."""
    window = dt.timedelta(days=WINDOW_DAYS) / UNIT

    def extend(step: int, last: int, start: int) -> int:
        if step == len(STEPS):
            return step
        best = step
        for name, t in events:
            if name == STEPS[step] and t > last and t - start <= window:
                best = max(best, extend(step + 1, t, start))
        return best

    return {t: extend(1, t, t) for name, t in events if name == STEPS[0]}


@pytest.fixture(scope="module")
def compiled_funnel_sql(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("compiled")
    (root / "landing").mkdir()
    warehouse = root / "events.duckdb"
    result = run_dbt(
        "compile",
        landing=root / "landing",
        warehouse=warehouse,
        select="int_funnel__counted_steps",
        dbt_vars={"funnels": [{"name": "random", "steps": STEPS, "window_days": WINDOW_DAYS}]},
    )
    assert result.returncode == 0, result.output[-2000:]
    compiled = next((root / ".dbt-target-events" / "compiled").rglob("int_funnel__counted_steps.sql"))
    return warehouse, compiled.read_text()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 8)), max_size=9))
def test_funnel_level_matches_brute_force(compiled_funnel_sql: tuple[Path, str], events: list) -> None:
    warehouse, sql = compiled_funnel_sql
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists marts")
        con.execute(
            "create or replace table marts.fct_events "
            "(user_key varchar, event_name varchar, occurred_at timestamp, properties json)"
        )
        if events:
            con.executemany(
                "insert into marts.fct_events values ('u', ?, ?, null)",
                [(name, dt.datetime(2026, 10, 1) + t * UNIT) for name, t in events],
            )
        level, started = con.execute(
            f"select max(step_index), min(reached_at) filter (where step_index = 1) from ({sql}) as steps"
        ).fetchone()
    attempts = brute_force_attempts(events)
    best = max(attempts.values(), default=0)
    assert (level or 0) == best
    # the attempt counted is the earliest step-1 event reaching that level
    first = min((t for t, reached in attempts.items() if reached == best), default=None)
    assert started == (None if first is None else dt.datetime(2026, 10, 1) + first * UNIT)
