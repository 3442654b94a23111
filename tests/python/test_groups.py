"""Segment group calls: dim_groups, group_memberships, and funnels and retention counted by group.

Every expected row is worked out by hand from the messages below; every incremental warehouse is
also compared with a full refresh over the same files (conftest.COMPARED_RELATIONS).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import build, message, query, snapshot, write_lines
from event_analytics.generate import GenerateOptions, generate

GROUP_UNITS = {"funnel_unit": "group", "retention_unit": "group"}


def group_call(message_id: str, timestamp: str, group_id: str, **extra: Any) -> dict[str, Any]:
    return message(message_id, timestamp, type="group", groupId=group_id, **extra)


RUN_1 = [
    # u1 joins acme; the group's email is a pii trait (dropped), the others are declared.
    group_call(
        "g1",
        "2026-10-01T10:00:00Z",
        "acme",
        user_id="u1",
        traits={"name": "Acme", "plan": "free", "employees": 10, "email": "ceo@acme.example"},
    ),
    # device a2, anonymous for now, joins acme too, on the pro plan.
    group_call("g2", "2026-10-01T11:00:00Z", "acme", anonymous_id="a2", traits={"plan": "pro"}),
    # u1 is also in initech: a user in two groups. No traits.
    group_call("g3", "2026-10-01T12:00:00Z", "initech", user_id="u1"),
    # checkout funnel: u1 views, a2 adds (two acme members, each doing part of the steps)
    message("v1", "2026-10-01T13:00:00Z", user_id="u1", event="product_viewed"),
    message("add2", "2026-10-01T13:05:00Z", anonymous_id="a2", event="product_added"),
    # u9 is in no group (yet)
    message("v9", "2026-10-01T13:00:00Z", user_id="u9", event="product_viewed"),
]

RUN_2 = [
    # a2 turns out to be u2: the alias re-keys the device's past, its acme membership included.
    message("al", "2026-10-02T09:00:00Z", type="alias", user_id="u2", previousId="a2"),
    # u2 calls acme itself: industry is new, plan sent null keeps pro.
    group_call("g4", "2026-10-02T10:00:00Z", "acme", user_id="u2", traits={"industry": "Retail", "plan": None}),
    # u1 starts checkout: acme's chain view (u1) -> add (a2, now u2) -> checkout (u1)
    message("co1", "2026-10-02T09:30:00Z", user_id="u1", event="checkout_started"),
    # a late group call: u9 was in beta since before its view
    group_call("g5", "2026-10-01T08:00:00Z", "beta", user_id="u9", received_at="2026-10-02T08:00:00Z"),
    # u2 comes back the next week (Tue 6 Oct): acme is active at weekly offset 1
    message("v2", "2026-10-06T10:00:00Z", user_id="u2", event="product_viewed"),
]


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def write_run(landing: Path, run: int) -> None:
    write_lines(landing / f"2026-10-0{run}.jsonl", RUN_1 if run == 1 else RUN_2)


def full_refresh_of(landing: Path, workdir: Path, name: str = "reference", **dbt_vars: object) -> dict:
    reference = workdir / f"{name}.duckdb"
    build(landing, reference, full_refresh=True, **dbt_vars)
    return snapshot(reference)


def memberships(warehouse: Path) -> list[tuple]:
    return query(
        warehouse, "select group_id, user_key, first_seen_at, last_seen_at from marts.group_memberships order by 1, 2"
    )


def groups(warehouse: Path) -> list[tuple]:
    rows = query(
        warehouse, "select group_id, first_seen_at, last_seen_at, member_count, traits from marts.dim_groups order by 1"
    )
    return [(*row[:4], None if row[4] is None else json.loads(row[4])) for row in rows]


def test_group_calls_across_two_runs_and_an_alias_rekeying_a_member(workdir: Path) -> None:
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    write_run(landing, 1)
    build(landing, warehouse)
    assert memberships(warehouse) == [
        ("acme", "a2", ts("2026-10-01 11:00"), ts("2026-10-01 11:00")),
        ("acme", "u1", ts("2026-10-01 10:00"), ts("2026-10-01 10:00")),
        ("initech", "u1", ts("2026-10-01 12:00"), ts("2026-10-01 12:00")),
    ]
    assert groups(warehouse) == [
        # plan: g2's pro is later than g1's free; the email never passed staging
        ("acme", ts("2026-10-01 10:00"), ts("2026-10-01 11:00"), 2, {"employees": 10, "name": "Acme", "plan": "pro"}),
        ("initech", ts("2026-10-01 12:00"), ts("2026-10-01 12:00"), 1, None),
    ]

    write_run(landing, 2)
    build(landing, warehouse)
    # a2's membership moved to u2 and merged with u2's own call: first from a2's, last from u2's
    assert memberships(warehouse) == [
        ("acme", "u1", ts("2026-10-01 10:00"), ts("2026-10-01 10:00")),
        ("acme", "u2", ts("2026-10-01 11:00"), ts("2026-10-02 10:00")),
        ("beta", "u9", ts("2026-10-01 08:00"), ts("2026-10-01 08:00")),
        ("initech", "u1", ts("2026-10-01 12:00"), ts("2026-10-01 12:00")),
    ]
    assert groups(warehouse) == [
        (
            "acme",
            ts("2026-10-01 10:00"),
            ts("2026-10-02 10:00"),
            2,
            {"employees": 10, "industry": "Retail", "name": "Acme", "plan": "pro"},
        ),
        ("beta", ts("2026-10-01 08:00"), ts("2026-10-01 08:00"), 1, None),
        ("initech", ts("2026-10-01 12:00"), ts("2026-10-01 12:00"), 1, None),
    ]
    assert snapshot(warehouse) == full_refresh_of(landing, workdir)


def test_funnels_and_retention_counted_by_group_across_runs_and_unit_changes(workdir: Path) -> None:
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    conversions = "select funnel_name, user_key, level, entered_at, completed_at from marts.funnel_conversions"
    write_run(landing, 1)
    build(landing, warehouse, **GROUP_UNITS)
    # acme: u1's view, then a2's add; initech (u1 alone): the view only; u9 is in no group
    assert sorted(query(warehouse, conversions)) == [
        ("checkout", "acme", 2, ts("2026-10-01 13:00"), None),
        ("checkout", "initech", 1, ts("2026-10-01 13:00"), None),
    ]

    write_run(landing, 2)
    build(landing, warehouse, **GROUP_UNITS)
    # acme: view (u1) -> add (a2, now u2) -> checkout (u1); beta: u9's view, now that u9 is a member
    assert sorted(query(warehouse, conversions)) == [
        ("checkout", "acme", 3, ts("2026-10-01 13:00"), None),
        ("checkout", "beta", 1, ts("2026-10-01 13:00"), None),
        ("checkout", "initech", 1, ts("2026-10-01 13:00"), None),
    ]
    assert query(
        warehouse,
        "select step_index, users, conversion_from_start from marts.funnel_steps"
        " where funnel_name = 'checkout' and breakdown_key is null order by 1",
    ) == [(1, 3, 1.0), (2, 1, pytest.approx(1 / 3)), (3, 1, pytest.approx(1 / 3)), (4, 0, 0.0)]
    # weekly: every group's first event is in the week of Mon 28 Sep; acme (u2) is back the next week
    assert query(
        warehouse,
        "select cohort_period, period_offset, cohort_users, active_users from marts.cohort_retention order by 1, 2",
    ) == [(dt.date(2026, 9, 28), 0, 3, 3), (dt.date(2026, 9, 28), 1, 3, 1)]
    by_group = full_refresh_of(landing, workdir, "by_group", **GROUP_UNITS)
    assert snapshot(warehouse) == by_group

    # Back to users, no new file: every user is recomputed, no group row stays behind ...
    build(landing, warehouse)
    assert snapshot(warehouse) == full_refresh_of(landing, workdir, "by_user")
    assert query(warehouse, "select count(*) from marts.funnel_conversions where user_key = 'acme'") == [(0,)]
    # ... and to groups again
    build(landing, warehouse, **GROUP_UNITS)
    assert snapshot(warehouse) == by_group


def test_a_copy_that_moves_a_group_call_to_another_group_empties_the_old_group(workdir: Path) -> None:
    """Two copies of one messageId naming different groups (not what a retry sends, but the data
    allows it): the copy received first wins, so the call leaves `old`, which is left with none."""
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    write_lines(
        landing / "day1.jsonl",
        [
            group_call("gx", "2026-10-01T10:00:00Z", "old", user_id="u1", received_at="2026-10-01T10:00:05Z"),
            group_call("gy", "2026-10-01T11:00:00Z", "stays", user_id="u3"),
        ],
    )
    build(landing, warehouse)
    assert [row[:2] for row in memberships(warehouse)] == [("old", "u1"), ("stays", "u3")]
    write_lines(
        landing / "day2.jsonl",
        [group_call("gx", "2026-10-01T10:00:00Z", "new", user_id="u1", received_at="2026-10-01T10:00:01Z")],
    )
    build(landing, warehouse)
    assert [row[:2] for row in memberships(warehouse)] == [("new", "u1"), ("stays", "u3")]
    assert [row[:4] for row in groups(warehouse)] == [
        ("new", ts("2026-10-01 10:00"), ts("2026-10-01 10:00"), 1),
        ("stays", ts("2026-10-01 11:00"), ts("2026-10-01 11:00"), 1),
    ]
    assert snapshot(warehouse) == full_refresh_of(landing, workdir)


@pytest.mark.parametrize("variable", ["funnel_unit", "retention_unit"])
def test_an_invalid_unit_fails_the_run(workdir: Path, variable: str) -> None:
    write_run(workdir / "landing", 1)
    with pytest.raises(AssertionError, match=f"{variable} must be user or group, got account"):
        build(workdir / "landing", workdir / "w.duckdb", **{variable: "account"})


def test_generated_days_loaded_in_batches_counted_by_group_equal_full_refresh(workdir: Path) -> None:
    """The generator's group calls and aliases, loaded in three batches, with funnels and retention
    counted by group."""
    generated = workdir / "generated"
    generate(GenerateOptions(out=generated, events=6000, users=150, days=8, faults=0.05, seed=7))
    files = sorted(generated.glob("*.jsonl.gz"))
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    landing.mkdir()
    for batch in (files[:4], files[4:6], files[6:]):
        for path in batch:
            shutil.copy(path, landing / path.name)
        build(landing, warehouse, **GROUP_UNITS)
    incremental = snapshot(warehouse)
    assert incremental == full_refresh_of(landing, workdir, **GROUP_UNITS)
    # there is something to compare: groups with members, funnels counted by group
    assert len(incremental["marts.group_memberships"]) > 5
    assert len(incremental["marts.dim_groups"]) > 1
    assert query(
        warehouse,
        "select count(*) from marts.funnel_conversions where user_key not in (select group_id from marts.dim_groups)",
    ) == [(0,)]
    assert len(incremental["marts.funnel_conversions"]) > 1
