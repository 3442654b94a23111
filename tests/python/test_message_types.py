"""Every Segment message as senders send it, on a real warehouse, with expected rows worked by hand.

The fixtures follow the public specs: Segment's Spec pages for track, page, screen, identify, group
and alias (their own example payloads, trimmed), the HTTP tracking API's batch envelope, the
e-commerce spec's "Order Completed", and RudderStack's identify with traits under context.traits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from conftest import TEST_PII_KEY, build, message, query, snapshot, write_lines
from event_analytics.pipeline import run_dbt

T = "2026-10-01T10:00:00Z"


def hashed(value: str) -> str:
    return hmac.new(TEST_PII_KEY.encode(), value.strip().lower().encode(), hashlib.sha256).hexdigest()


SPEC_CALLS: list[dict[str, Any]] = [
    # e-commerce spec v2, Order Completed (its example, trimmed), sent under the spec's name
    {
        "type": "track",
        "event": "Order Completed",
        "messageId": "track-1",
        "userId": "u1",
        "anonymousId": "a1",
        "originalTimestamp": "2026-10-01T09:59:58Z",
        "sentAt": "2026-10-01T10:00:00Z",
        "timestamp": "2026-10-01T10:00:00Z",
        "receivedAt": "2026-10-01T10:00:02Z",
        "properties": {
            "order_id": "50314b8e9bcf000000000000",
            "revenue": 25.0,
            "currency": "USD",
            "products": [{"product_id": "507f1f77bcf86cd799439011", "sku": "45790-32", "price": 19, "quantity": 1}],
        },
    },
    # page spec: name and category at the top level
    {
        "type": "page",
        "name": "Home",
        "category": "Docs",
        "messageId": "page-1",
        "anonymousId": "a1",
        "timestamp": "2026-10-01T10:01:00Z",
        "receivedAt": "2026-10-01T10:01:01Z",
        "properties": {"title": "Welcome | Initech", "path": "/docs"},
    },
    # screen spec
    {
        "type": "screen",
        "name": "Home",
        "messageId": "screen-1",
        "userId": "u2",
        "timestamp": "2026-10-01T10:02:00Z",
        "receivedAt": "2026-10-01T10:02:01Z",
        "properties": {"name": "Home"},
    },
    # identify spec: traits at the top level
    {
        "type": "identify",
        "messageId": "identify-1",
        "userId": "u2",
        "anonymousId": "a2",
        "timestamp": "2026-10-01T10:03:00Z",
        "receivedAt": "2026-10-01T10:03:01Z",
        "traits": {"email": "Peter@Example.com", "name": "Peter Gibbons"},
    },
    # RudderStack's identify: traits under context.traits, none at the top
    {
        "type": "identify",
        "messageId": "identify-2",
        "userId": "u3",
        "anonymousId": "a3",
        "timestamp": "2026-10-01T10:04:00Z",
        "receivedAt": "2026-10-01T10:04:01Z",
        "context": {"traits": {"email": "Ana@Example.com"}},
        "traits": {},
    },
    # group spec
    {
        "type": "group",
        "messageId": "group-1",
        "userId": "u2",
        "groupId": "0e8c78ea9d97a7b8185e8632",
        "timestamp": "2026-10-01T10:05:00Z",
        "receivedAt": "2026-10-01T10:05:01Z",
        "traits": {"name": "Initech", "industry": "Technology", "employees": 329},
    },
    # alias spec: the device a9 browsed anonymously, then became u4
    message("anon-9", "2026-10-01T09:00:00Z", anonymous_id="a9"),
    {
        "type": "alias",
        "messageId": "alias-1",
        "previousId": "a9",
        "userId": "u4",
        "timestamp": "2026-10-01T10:06:00Z",
        "receivedAt": "2026-10-01T10:06:01Z",
    },
    {"type": "group", "messageId": "group-2", "userId": "u2", "timestamp": T, "receivedAt": T},
    {"type": "alias", "messageId": "alias-2", "userId": "u4", "timestamp": T, "receivedAt": T},
    {"type": "alias", "messageId": "alias-3", "previousId": "a9", "anonymousId": "a9", "timestamp": T, "receivedAt": T},
]


def test_all_six_spec_calls_are_kept_with_their_fields(workdir: Path) -> None:
    landing = workdir / "landing"
    write_lines(landing / "spec.jsonl", SPEC_CALLS)
    warehouse = workdir / "w.duckdb"
    build(landing, warehouse)

    events = {
        row[0]: row[1:]
        for row in query(
            warehouse,
            "select event_id, event_type, event_name, source_event_name, user_key, page_name, page_category, "
            "group_id from marts.fct_events",
        )
    }
    assert events == {
        "track-1": ("track", "order_completed", "Order Completed", "u1", None, None, None),
        "page-1": ("page", "page_viewed", None, "u1", "Home", "Docs", None),
        "screen-1": ("screen", "screen_viewed", None, "u2", "Home", None, None),
        "identify-1": ("identify", "user_identified", None, "u2", None, None, None),
        "identify-2": ("identify", "user_identified", None, "u3", None, None, None),
        "group-1": ("group", "group_identified", None, "u2", None, None, "0e8c78ea9d97a7b8185e8632"),
        # the alias re-keys the device's anonymous past
        "anon-9": ("track", "product_viewed", "product_viewed", "u4", None, None, None),
        "alias-1": ("alias", "user_aliased", None, "u4", None, None, None),
    }
    # track-1's times as sent; the event time is `timestamp` when present
    assert query(
        warehouse,
        "select occurred_at, original_timestamp, sent_at, received_at from marts.fct_events where event_id = 'track-1'",
    ) == [
        (
            dt.datetime(2026, 10, 1, 10, 0),
            dt.datetime(2026, 10, 1, 9, 59, 58),
            dt.datetime(2026, 10, 1, 10, 0),
            dt.datetime(2026, 10, 1, 10, 0, 2),
        )
    ]
    # identify traits from `traits`, or from context.traits when `traits` is empty: hashed email
    assert dict(query(warehouse, "select user_key, email_hash from marts.dim_users where email_hash is not null")) == {
        "u2": hashed("Peter@Example.com"),
        "u3": hashed("Ana@Example.com"),
    }
    rejected = dict(query(warehouse, "select line_number, reason from quarantine.rejected_events"))
    assert rejected == {9: "missing_group_id", 10: "missing_previous_id", 11: "missing_user_id"}


BATCH_MEMBERS: list[Any] = [
    # inherits the envelope's context, sentAt and receivedAt
    {
        "type": "track",
        "event": "product_viewed",
        "messageId": "b0",
        "anonymousId": "a1",
        "timestamp": T,
        "properties": {"product_id": "p-1"},
    },
    # keeps its own receivedAt and context
    {
        "type": "page",
        "messageId": "b1",
        "anonymousId": "a1",
        "timestamp": "2026-10-01T10:01:00Z",
        "receivedAt": "2026-10-01T10:05:00Z",
        "context": {"locale": "fr-FR"},
    },
    "not an object",
    {"type": "track", "event": "product_viewed", "anonymousId": "a1", "timestamp": T},
]


def test_batch_envelopes_are_unpacked_member_by_member(workdir: Path) -> None:
    landing = workdir / "landing"
    envelope = {
        "batch": BATCH_MEMBERS,
        "sentAt": "2026-10-01T10:00:30Z",
        "receivedAt": "2026-10-01T10:00:31Z",
        "context": {"ip": "203.0.113.7", "locale": "de-DE"},
    }
    write_lines(
        landing / "batch.jsonl",
        [
            envelope,
            {"batch": []},
            # an earlier-received copy of b0 outside any batch: kept; the member is the duplicate
            message("b0", T, received_at="2026-10-01T10:00:10Z", anonymous_id="a1", properties={"product_id": "p-1"}),
        ],
    )
    warehouse = workdir / "w.duckdb"
    build(landing, warehouse)  # with every data test, lines_are_accounted_for among them

    staged = query(
        warehouse,
        "select event_id, line_number, batch_index, batch_size, received_at, sent_at, ip, locale, reject_reason "
        "from staging.stg_segment__events order by line_number, batch_index",
    )
    assert staged == [
        (
            "b0",
            1,
            0,
            4,
            dt.datetime(2026, 10, 1, 10, 0, 31),
            dt.datetime(2026, 10, 1, 10, 0, 30),
            "203.0.113.0",
            "de-DE",
            None,
        ),
        (
            "b1",
            1,
            1,
            4,
            dt.datetime(2026, 10, 1, 10, 5),
            dt.datetime(2026, 10, 1, 10, 0, 30),
            "203.0.113.0",
            "fr-FR",
            None,
        ),
        (None, 1, 2, 4, None, None, None, None, "invalid_json"),
        # a rejected member still inherited its envelope's fields
        (
            None,
            1,
            3,
            4,
            dt.datetime(2026, 10, 1, 10, 0, 31),
            dt.datetime(2026, 10, 1, 10, 0, 30),
            "203.0.113.0",
            "de-DE",
            "missing_message_id",
        ),
        (None, 2, None, 0, None, None, None, None, "empty_batch"),
        ("b0", 3, None, None, dt.datetime(2026, 10, 1, 10, 0, 10), None, None, None, None),
    ]
    rejected = query(
        warehouse, "select line_number, batch_index, reason, raw_line from quarantine.rejected_events order by 1, 2"
    )
    assert [row[:3] for row in rejected] == [
        (1, 2, "invalid_json"),
        (1, 3, "missing_message_id"),
        (2, None, "empty_batch"),
    ]
    assert json.loads(rejected[0][3]) == "not an object"
    assert json.loads(rejected[1][3]) == BATCH_MEMBERS[3]

    assert query(warehouse, "select event_id, line_number, batch_index from marts.fct_events order by 1") == [
        ("b0", 3, None),
        ("b1", 1, 1),
    ]
    duplicates = query(
        warehouse, "select event_id, line_number, batch_index, raw_line from quarantine.duplicate_events"
    )
    assert [row[:3] for row in duplicates] == [("b0", 1, 0)]
    assert json.loads(duplicates[0][3]) == BATCH_MEMBERS[0]

    # The accounting test fails when a member goes missing: it is not a test that cannot fail.
    with __import__("duckdb").connect(str(warehouse)) as con:
        con.execute("delete from quarantine.rejected_events where batch_index = 3")
    tested = run_dbt("test", landing=landing, warehouse=warehouse, select="lines_are_accounted_for")
    assert not tested.ok


TIME_CASES: list[tuple[dict[str, Any], Any]] = [
    # (message fields, expected: occurred_at in enforce mode, or a reject reason)
    (
        {
            "originalTimestamp": "2026-10-01T09:59:00Z",
            "sentAt": "2026-10-01T10:00:00Z",
            "receivedAt": "2026-10-01T12:00:05Z",
        },
        dt.datetime(2026, 10, 1, 11, 59, 5),
    ),
    (
        {"originalTimestamp": "2026-10-01T09:00:00Z", "receivedAt": "2026-10-01T10:00:00Z"},
        dt.datetime(2026, 10, 1, 9, 0),
    ),
    (
        {"timestamp": "garbage", "originalTimestamp": "2026-10-01T08:00:00Z", "receivedAt": T},
        dt.datetime(2026, 10, 1, 8, 0),
    ),
    ({"timestamp": "2026-10-01t10:00:00z", "receivedAt": T}, dt.datetime(2026, 10, 1, 10, 0)),
    (
        {"timestamp": "2026-10-01T23:59:60Z", "receivedAt": "2026-10-02T00:00:01Z"},
        dt.datetime(2026, 10, 1, 23, 59, 59, 999999),
    ),
    ({"timestamp": "2026-10-01T10:00:00+25:00", "receivedAt": T}, "invalid_timestamp"),
    ({"timestamp": "2026-10-01T24:00:00Z", "receivedAt": T}, "invalid_timestamp"),
    ({"receivedAt": T}, "invalid_timestamp"),
    ({"timestamp": "0001-01-01T00:00:00Z", "receivedAt": T}, "implausible_timestamp"),
    ({"timestamp": "1970-01-01T00:00:00Z", "receivedAt": T}, "implausible_timestamp"),
    ({"timestamp": "2026-10-03T10:00:00Z", "receivedAt": T}, "implausible_timestamp"),
    ({"timestamp": "9999-12-31T00:00:00Z", "receivedAt": "9999-12-31T00:00:00Z"}, "implausible_timestamp"),
    # exactly at the limits: 365 days before, 10 minutes after
    ({"timestamp": "2025-10-01T10:00:00Z", "receivedAt": T}, dt.datetime(2025, 10, 1, 10, 0)),
    ({"timestamp": "2026-10-01T10:10:00Z", "receivedAt": T}, dt.datetime(2026, 10, 1, 10, 10)),
    # no receivedAt: the event time stands in, and the file's time is the reference
    ({"timestamp": T}, dt.datetime(2026, 10, 1, 10, 0)),
]


def time_lines() -> list[dict[str, Any]]:
    return [
        {
            "type": "track",
            "event": "product_viewed",
            "messageId": f"t{i}",
            "anonymousId": "a1",
            "properties": {"product_id": "p"},
            **fields,
        }
        for i, (fields, _) in enumerate(TIME_CASES)
    ]


def test_event_times_follow_segment_and_rfc_3339_and_must_be_plausible(workdir: Path) -> None:
    landing = workdir / "landing"
    write_lines(landing / "times.jsonl", time_lines())
    warehouse = workdir / "w.duckdb"
    build(landing, warehouse)
    kept = dict(query(warehouse, "select event_id, occurred_at from marts.fct_events"))
    rejected = dict(query(warehouse, "select line_number, reason from quarantine.rejected_events"))
    for i, (_, expected) in enumerate(TIME_CASES):
        if isinstance(expected, str):
            assert rejected.get(i + 1) == expected, (i, TIME_CASES[i])
        else:
            assert kept.get(f"t{i}") == expected, (i, TIME_CASES[i])
    violations = dict(query(warehouse, "select line_number, violations from quarantine.rejected_events"))
    assert violations[9] == "timestamp: more than 365 days before receivedAt"
    assert violations[11] == "timestamp: more than 10 minutes after receivedAt"
    assert violations[12] == (
        "timestamp: more than 10 minutes after its file was written; receivedAt: implausible, event time used"
    )
    assert query(warehouse, "select received_at, violations from marts.fct_events where event_id = 't14'") == [
        (dt.datetime(2026, 10, 1, 10, 0), "receivedAt: missing, event time used")
    ]


def test_flag_mode_keeps_implausible_times_at_received_at(workdir: Path) -> None:
    landing = workdir / "landing"
    write_lines(landing / "times.jsonl", time_lines())
    warehouse = workdir / "w.duckdb"
    build(landing, warehouse, tracking_plan_mode="flag")
    kept = dict(query(warehouse, "select event_id, occurred_at from marts.fct_events"))
    # year 1, 1970 and two days ahead take their receivedAt
    for i in (8, 9, 10):
        assert kept[f"t{i}"] == dt.datetime(2026, 10, 1, 10, 0)
    # no mart sees year 1 or year 9999, and retention keeps its few offsets
    # year 9999 with a receivedAt of 9999 takes its file's time: the file cannot be older
    tomorrow = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=1)
    (earliest, latest, latest_received) = query(
        warehouse, "select min(occurred_at), max(occurred_at), max(received_at) from marts.fct_events"
    )[0]
    assert earliest == dt.datetime(2025, 10, 1, 10, 0)
    assert latest < tomorrow and latest_received < tomorrow
    # retention's offsets span those weeks, not the 105,699 of a year-1 event
    assert query(warehouse, "select max(period_offset) from marts.cohort_retention")[0][0] < 120


ALIAS_RUNS: list[list[dict[str, Any]]] = [
    [
        message("e1", "2026-10-01T10:00:00Z", anonymous_id="a1"),
        message("e2", "2026-10-01T10:05:00Z", user_id="u5"),
        {
            "batch": [
                message("e3", "2026-10-01T10:06:00Z", anonymous_id="a1"),
                message("e4", "2026-10-01T10:07:00Z", user_id="u6"),
            ]
        },
        {
            "type": "group",
            "messageId": "g1",
            "anonymousId": "a1",
            "groupId": "acct-1",
            "timestamp": T,
            "receivedAt": T,
            "traits": {"name": "Initech"},
        },
    ],
    # a server-side alias (no anonymousId) from the device, then a chain onward: a1 → u5 → u6
    [
        {
            "type": "alias",
            "messageId": "al1",
            "previousId": "a1",
            "userId": "u5",
            "timestamp": "2026-10-02T10:00:00Z",
            "receivedAt": "2026-10-02T10:00:00Z",
        },
        {
            "type": "alias",
            "messageId": "al2",
            "previousId": "u5",
            "userId": "u6",
            "timestamp": "2026-10-02T11:00:00Z",
            "receivedAt": "2026-10-02T11:00:00Z",
        },
    ],
    # u6 → u5 closes a cycle; its latest alias points to u5, where every key of it now ends
    [
        {
            "type": "alias",
            "messageId": "al3",
            "previousId": "u6",
            "userId": "u5",
            "timestamp": "2026-10-03T10:00:00Z",
            "receivedAt": "2026-10-03T10:00:00Z",
        },
    ],
]
EXPECTED_USER_KEYS = [
    {"e1": "a1", "e2": "u5", "e3": "a1", "e4": "u6", "g1": "a1"},
    {"e1": "u6", "e2": "u6", "e3": "u6", "e4": "u6", "g1": "u6", "al1": "u6", "al2": "u6"},
    {"e1": "u5", "e2": "u5", "e3": "u5", "e4": "u5", "g1": "u5", "al1": "u5", "al2": "u5", "al3": "u5"},
]


def test_aliases_in_later_runs_re_key_earlier_events_as_a_full_refresh_does(workdir: Path) -> None:
    landing = workdir / "landing"
    warehouse = workdir / "w.duckdb"
    for run, (lines, expected) in enumerate(zip(ALIAS_RUNS, EXPECTED_USER_KEYS, strict=True)):
        write_lines(landing / f"run-{run}.jsonl", lines)
        build(landing, warehouse)
        assert dict(query(warehouse, "select event_id, user_key from marts.fct_events")) == expected, run
        # a folder of its own, the file named as the warehouse's: dbt names the catalog after the
        # file, so the same name lets dbt reuse the warehouse's parse (dbt_worker)
        reference = workdir / f"reference-{run}" / "w.duckdb"
        build(landing, reference, full_refresh=True)
        assert snapshot(warehouse) == snapshot(reference), run
    users = query(warehouse, "select user_key, user_id, event_count from marts.dim_users")
    assert users == [("u5", "u5", 8)]
