"""Parsing and quarantine of landing lines, on a real warehouse."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import hmac
from pathlib import Path

from conftest import TEST_PII_KEY, build, message, query, write_lines

T = "2026-10-01T10:00:00Z"


def test_every_line_is_parsed_or_quarantined_with_its_reason(workdir: Path) -> None:
    landing = workdir / "landing"
    write_lines(
        landing / "2026-10-01.jsonl",
        [
            message(
                "ok-offset", "2026-10-01T12:00:00.250+02:00", received_at="2026-10-01T10:00:01Z", anonymous_id="a1"
            ),
            "",
            "   ",
            '{"messageId": "broken", "type": "track"',
            "[1, 2, 3]",
            message(None, T, anonymous_id="a1"),
            message("  ", T, anonymous_id="a1"),
            message("no-ids", T),
            message("no-ids-blank", T, anonymous_id="", user_id=" "),
            message("ts-word", "infinity", anonymous_id="a1"),
            message("ts-epoch", "epoch", anonymous_id="a1"),
            message("ts-impossible", "2026-02-30T10:00:00Z", anonymous_id="a1"),
            message("ts-date-only", "2026-10-01", anonymous_id="a1"),
            # an invalid receivedAt no longer rejects: the event time stands in, noted in violations
            message("received-bad", T, received_at="yesterday", anonymous_id="a1"),
            message("group-call-without-group-id", T, type="group", anonymous_id="a1"),
            message("no-type", T, type="", anonymous_id="a1"),
            message("track-no-event", T, event=None, anonymous_id="a1"),
            message(
                "page-1",
                "2026-10-01T05:00:00-05:00",
                type="page",
                anonymous_id="a1",
                context={
                    "page": {"path": "/pricing", "referrer": "https://r.example/"},
                    "campaign": {"source": "newsletter", "medium": "email", "name": "weekly"},
                },
            ),
            message("screen-1", "2026-10-01T10:00:00", type="screen", user_id="u1"),
            message(
                "identify-1",
                T,
                type="identify",
                user_id="u1",
                anonymous_id="a1",
                traits={"email": "person@example.com"},
            ),
            message("extra-fields", T, anonymous_id="a1", unknownField={"x": 1}, properties={"k": "v"}),
        ],
    )
    (landing / "nested").mkdir()
    with gzip.open(landing / "nested" / "2026-10-02.jsonl.gz", "wt") as f:
        f.write(
            '{"messageId": 42, "type": "TRACK", "event": "order_completed", "userId": 7, '
            '"timestamp": "2026-10-02T00:00:00Z", "receivedAt": "2026-10-02T00:00:01Z", '
            '"properties": {"order_id": "o-1", "revenue": 10}}\n'
        )
    warehouse = workdir / "w.duckdb"
    build(landing, warehouse)

    rejected = dict(
        ((row[0], row[1]), row[2])
        for row in query(warehouse, "select source_file, line_number, reason from quarantine.rejected_events")
    )
    f = "2026-10-01.jsonl"
    assert rejected == {
        (f, 4): "invalid_json",
        (f, 5): "invalid_json",
        (f, 6): "missing_message_id",
        (f, 7): "missing_message_id",
        (f, 8): "missing_identity",
        (f, 9): "missing_identity",
        (f, 10): "invalid_timestamp",
        (f, 11): "invalid_timestamp",
        (f, 12): "invalid_timestamp",
        (f, 13): "invalid_timestamp",
        (f, 15): "missing_group_id",
        (f, 16): "unsupported_type",
        (f, 17): "missing_event_name",
    }
    raw = query(warehouse, "select raw_line from quarantine.rejected_events where line_number = 4")
    assert raw == [('{"messageId": "broken", "type": "track"',)]

    events = {
        row[0]: row[1:]
        for row in query(
            warehouse,
            "select event_id, event_type, event_name, occurred_at, user_key, page_path, source_file, "
            "properties::varchar from marts.fct_events",
        )
    }
    # Properties: only those the plan declares for the event (the undeclared 'k' does not pass).
    viewed = '{"product_id":"x"}'
    assert events == {
        "ok-offset": ("track", "product_viewed", dt.datetime(2026, 10, 1, 10, 0, 0, 250000), "u1", None, f, viewed),
        "page-1": ("page", "page_viewed", dt.datetime(2026, 10, 1, 10, 0), "u1", "/pricing", f, "{}"),
        "screen-1": ("screen", "screen_viewed", dt.datetime(2026, 10, 1, 10, 0), "u1", None, f, "{}"),
        "identify-1": ("identify", "user_identified", dt.datetime(2026, 10, 1, 10, 0), "u1", None, f, None),
        "extra-fields": ("track", "product_viewed", dt.datetime(2026, 10, 1, 10, 0), "u1", None, f, viewed),
        "received-bad": ("track", "product_viewed", dt.datetime(2026, 10, 1, 10, 0), "u1", None, f, viewed),
        "42": (
            "track",
            "order_completed",
            dt.datetime(2026, 10, 2, 0, 0),
            "7",
            None,
            "nested/2026-10-02.jsonl.gz",
            '{"order_id":"o-1","revenue":10}',
        ),
    }
    assert query(warehouse, "select received_at, violations from marts.fct_events where event_id = 'received-bad'") == [
        (dt.datetime(2026, 10, 1, 10, 0), "receivedAt: invalid, event time used")
    ]
    # 21 lines in the first file, 2 of them blank; 1 in the second.
    assert query(warehouse, "select count(*) from staging.stg_segment__events") == [(20,)]
    sessions = query(
        warehouse,
        "select landing_page_path, referrer, utm_source, utm_medium, utm_campaign, event_count "
        "from marts.fct_sessions where anonymous_id = 'a1'",
    )
    # page-1 (10:00 UTC) and the four other a1 events at 10:00 form one session; page-1 sorts
    # first among equal timestamps only by event_id, so the landing page is that of 'extra-fields'.
    assert sessions == [(None, None, None, None, None, 5)]


def test_traits_reach_fct_events_hashed_or_dropped_as_the_plan_says(workdir: Path) -> None:
    landing = workdir / "landing"
    traits = {"email": "  X.Person@Example.com ", "name": "Xavier Person", "favourite": "blue"}
    write_lines(
        landing / "a.jsonl", [message("id-1", T, type="identify", user_id="u1", anonymous_id="a1", traits=traits)]
    )
    warehouse = workdir / "w.duckdb"
    build(landing, warehouse)
    # email: pii_handling hash (HMAC-SHA256 of the trimmed, lower-cased address); name: dropped;
    # favourite: not in the plan, does not pass.
    expected = hmac.new(TEST_PII_KEY.encode(), b"x.person@example.com", hashlib.sha256).hexdigest()
    assert query(warehouse, "select properties, traits::varchar from marts.fct_events") == [
        (None, f'{{"email":"{expected}"}}')
    ]
    assert query(warehouse, "select email_hash from marts.dim_users") == [(expected,)]


def test_each_file_is_loaded_once_across_runs_and_a_full_refresh(workdir: Path) -> None:
    """The reader reads several files at once: every line of each lands once, numbered within its
    file; a second run loads only the new files; a full refresh loads them all again, once."""
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"

    def day(number: int, lines: int) -> None:
        write_lines(
            landing / f"2026-10-{number:02d}.jsonl",
            [message(f"d{number}-{i}", f"2026-10-{number:02d}T10:0{i}:00Z", anonymous_id="a1") for i in range(lines)]
            + (["not json"] if number == 3 else []),
        )

    loaded = "select source_file, count(*), max(line_number) from staging.stg_segment__events group by 1 order by 1"
    for number, lines in [(1, 1), (2, 2), (3, 3), (4, 1), (5, 2)]:
        day(number, lines)
    build(landing, warehouse)
    first_five = [
        ("2026-10-01.jsonl", 1, 1),
        ("2026-10-02.jsonl", 2, 2),
        ("2026-10-03.jsonl", 4, 4),
        ("2026-10-04.jsonl", 1, 1),
        ("2026-10-05.jsonl", 2, 2),
    ]
    assert query(warehouse, loaded) == first_five
    assert query(warehouse, "select count(*) from quarantine.rejected_events") == [(1,)]

    for number in (6, 7, 8):
        day(number, 1)
    build(landing, warehouse)
    all_eight = first_five + [(f"2026-10-0{n}.jsonl", 1, 1) for n in (6, 7, 8)]
    assert query(warehouse, loaded) == all_eight
    assert query(warehouse, "select count(*), count(distinct event_id) from marts.fct_events") == [(12, 12)]

    build(landing, warehouse, full_refresh=True)
    assert query(warehouse, loaded) == all_eight
    assert query(warehouse, "select count(distinct _loaded_at) from staging.stg_segment__events") == [(1,)]
