"""Staging against the tracking plan: validation (enforce and flag) and PII handling, by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import build, message, query, write_lines
from event_analytics.pipeline import run_dbt

T = "2026-10-01T10:00:00Z"


def track(message_id: str, event: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return message(message_id, T, event=event, anonymous_id="a1", properties=properties, **extra)


PLAN_CASES = [
    track("ok", "product_added", {"product_id": "p-1", "price": 9.5, "quantity": 2, "currency": "EUR"}),
    track("unplanned", "promo_banner_clicked", {"banner": "x"}),
    # product_id missing, price a string, quantity a float, currency not in the enum
    track("bad-types", "product_added", {"product_id": None, "price": "cheap", "quantity": 1.5, "currency": "XYZ"}),
    track("enum-int", "scroll_depth_reached", {"percent": 33}),
    track("required-null", "search_performed", {"search_term": None}),
    track("object-for-string", "search_performed", {"search_term": {"q": "shoes"}}),
]


def violations(warehouse: Path, relation: str, key: str) -> dict[str, tuple[Any, ...]]:
    return {row[0]: row[1:] for row in query(warehouse, f"select {key}, reason, violations from {relation}")}


def test_enforce_quarantines_unplanned_events_and_schema_violations(workdir: Path) -> None:
    landing = workdir / "landing"
    write_lines(landing / "a.jsonl", PLAN_CASES)
    warehouse = workdir / "w.duckdb"
    build(landing, warehouse)
    rejected = {
        row[0]: row[1:]
        for row in query(warehouse, "select line_number, reason, violations from quarantine.rejected_events")
    }
    assert rejected == {
        2: ("unplanned_event", "unplanned_event"),
        3: (
            "schema_violation",
            "properties.currency: not in enum; properties.price: expected number; "
            "properties.product_id: missing; properties.quantity: expected integer",
        ),
        4: ("schema_violation", "properties.percent: not in enum"),
        5: ("schema_violation", "properties.search_term: missing"),
        6: ("schema_violation", "properties.search_term: expected string"),
    }
    assert query(warehouse, "select event_id, violations from marts.fct_events") == [("ok", None)]


def test_flag_mode_lets_them_through_with_violations_and_only_safe_values(workdir: Path) -> None:
    landing = workdir / "landing"
    write_lines(landing / "a.jsonl", PLAN_CASES)
    warehouse = workdir / "w.duckdb"
    build(landing, warehouse, tracking_plan_mode="flag")
    assert query(warehouse, "select count(*) from quarantine.rejected_events") == [(0,)]
    events = {
        row[0]: row[1:]
        for row in query(
            warehouse, "select event_id, event_name, properties::varchar, violations from marts.fct_events"
        )
    }
    assert events == {
        # valid and clean: passes as sent (compact, the sender's key order)
        "ok": (
            "product_added",
            '{"product_id":"p-1","price":9.5,"quantity":2,"currency":"EUR"}',
            None,
        ),
        # an unplanned event's properties are unknown to the plan: none pass
        "unplanned": ("promo_banner_clicked", None, "unplanned_event"),
        # wrongly typed values are left out; a string outside its enum is treated as free text
        "bad-types": (
            "product_added",
            '{"currency":"XYZ","product_id":null}',
            "properties.currency: not in enum; properties.price: expected number; "
            "properties.product_id: missing; properties.quantity: expected integer",
        ),
        "enum-int": ("scroll_depth_reached", '{"percent":33}', "properties.percent: not in enum"),
        # a null sent stays null
        "required-null": ("search_performed", '{"search_term":null}', "properties.search_term: missing"),
        "object-for-string": ("search_performed", "{}", "properties.search_term: expected string"),
    }


def test_a_mode_other_than_enforce_or_flag_fails_the_run(workdir: Path) -> None:
    landing = workdir / "landing"
    write_lines(landing / "a.jsonl", PLAN_CASES[:1])
    result = run_dbt("run", landing=landing, warehouse=workdir / "w.duckdb", dbt_vars={"tracking_plan_mode": "warn"})
    assert not result.ok
    assert "tracking_plan_mode must be enforce or flag, not warn" in result.output


def test_an_object_passes_as_sent_only_when_a_rebuild_would_not_change_it(workdir: Path) -> None:
    def raw(line: dict[str, Any], old: str, new: str) -> str:
        text = json.dumps(line)
        assert old in text
        return text.replace(old, new)

    landing = workdir / "landing"
    lines: list[dict[str, Any] | str] = [
        track("as-sent", "product_added", {"quantity": 2, "product_id": "p-1"}),
        track("null-kept", "page_viewed", {"path": "/a", "referrer": None}),
        # a hex id's "6e8" is not a number's exponent
        track("hex-id", "order_completed", {"order_id": "o-5af66e84", "revenue": 10}),
        # rebuilt: an undeclared key goes; declared keys come back in the plan's order
        track("undeclared", "product_added", {"quantity": 2, "product_id": "p-1", "gift_wrap": "X"}),
        # rebuilt: an escaped '@' is an email once decoded
        raw(track("escaped", "search_performed", {"search_term": "bob@example.com"}), "@", "\\u0040"),
        # rebuilt: a number written with an exponent, 1.5e13, is dropped like 15000000000000
        raw(track("exponent", "order_completed", {"order_id": "o-3", "revenue": 7.25}), "7.25", "1.5E13"),
        # rebuilt: a key sent twice
        raw(
            track("twice", "search_performed", {"search_term": "a"}),
            '"search_term": "a"',
            '"search_term": "a", "search_term": "b"',
        ),
    ]
    write_lines(landing / "a.jsonl", lines)
    warehouse = workdir / "w.duckdb"
    build(landing, warehouse)
    assert dict(query(warehouse, "select event_id, properties::varchar from marts.fct_events")) == {
        "as-sent": '{"quantity":2,"product_id":"p-1"}',
        "null-kept": '{"path":"/a","referrer":null}',
        "hex-id": '{"order_id":"o-5af66e84","revenue":10}',
        "undeclared": '{"product_id":"p-1","quantity":2}',
        "escaped": '{"search_term":"[email]"}',
        "exponent": '{"order_id":"o-3"}',
        "twice": '{"search_term":"a"}',
    }


FREE_TEXT = [
    ("contact me at Bob.Smith+shop@mail.example.co.uk please", "contact me at [email] please"),
    ("card 4111 1111 1111 1111 exp 12/29", "card [card] exp 12/29"),
    ("card 4111111111111111", "card[card]"),  # the plain form takes the character before it
    ("amex 3782-822463-10005", "amex [card]"),
    ("call +44 20 7946 0958 or (555) 123-4567", "call [phone] or [phone]"),
    ("555.123.4567", "[phone]"),
    ("from 203.0.113.45 today", "from [ip] today"),
    # not personal data: dates, prices, ids, a truncated address, a UUID, a float's long fraction
    ("2026-11-26 price 123.45 order o-123456789012", "2026-11-26 price 123.45 order o-123456789012"),
    ("203.0.113.0 and 12345678-1234-5678-1234-567812345678", "203.0.113.0 and 12345678-1234-5678-1234-567812345678"),
    ("0.30000000000000004", "0.30000000000000004"),
]


def test_free_text_is_redacted_and_enum_values_are_not(workdir: Path) -> None:
    landing = workdir / "landing"
    lines = [track(f"s{i}", "search_performed", {"search_term": text}) for i, (text, _) in enumerate(FREE_TEXT)]
    lines.append(track("enum", "form_submitted", {"form_name": "contact", "outcome": "success"}))
    write_lines(landing / "a.jsonl", lines)
    warehouse = workdir / "w.duckdb"
    build(landing, warehouse)
    got = dict(query(warehouse, "select event_id, properties ->> 'search_term' from marts.fct_events"))
    assert {f"s{i}": redacted for i, (_, redacted) in enumerate(FREE_TEXT)} == {
        k: v for k, v in got.items() if k != "enum"
    }
    assert query(warehouse, "select properties::varchar from marts.fct_events where event_id = 'enum'") == [
        ('{"form_name":"contact","outcome":"success"}',)
    ]


URLS = [
    (
        "https://shop.example.com/p?utm_source=news&Email=bob%40example.com&token=abc&q=shoes#access_token=zzz&x=1",
        "https://shop.example.com/p?utm_source=news&q=shoes#x=1",
    ),
    # a parameter with an innocent name but a personal value: redacted first, as the whole URL is
    ("https://shop.example.com/?ref=bob@example.com&page=2", "https://shop.example.com/?ref=[email]&page=2"),
    ("https://shop.example.com/?password=hunter2", "https://shop.example.com/"),
    ("https://shop.example.com/docs#section-2", "https://shop.example.com/docs#section-2"),
    ("https://shop.example.com/plain", "https://shop.example.com/plain"),
]

IPS = [
    ("203.0.113.45", "203.0.113.0"),
    ("2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3::"),
    ("2001:DB8::1", "2001:db8:0::"),
    ("::1", "0:0:0::"),
    ("not-an-ip", None),
]


def test_urls_lose_personal_parameters_and_ips_are_truncated(workdir: Path) -> None:
    landing = workdir / "landing"
    lines = [
        message(
            f"u{i}",
            T,
            type="page",
            anonymous_id="a1",
            context={"page": {"url": url, "referrer": url}, "ip": IPS[i][0]},
            properties={"url": url},
        )
        for i, (url, _) in enumerate(URLS)
    ]
    write_lines(landing / "a.jsonl", lines)
    warehouse = workdir / "w.duckdb"
    build(landing, warehouse)
    rows = query(
        warehouse,
        "select event_id, page_url, referrer, properties ->> 'url' from marts.fct_events order by event_id",
    )
    assert rows == [(f"u{i}", stripped, stripped, stripped) for i, (_, stripped) in enumerate(URLS)]
    ips = query(warehouse, "select ip from staging.stg_segment__events order by event_id")
    assert ips == [(truncated,) for _, truncated in IPS]


def test_numbers_that_could_be_card_numbers_are_dropped(workdir: Path) -> None:
    landing = workdir / "landing"
    write_lines(
        landing / "a.jsonl",
        [
            track("big", "order_completed", {"order_id": "o-1", "revenue": 4111111111111111}),
            track("fine", "order_completed", {"order_id": "o-2", "revenue": 999999999999.5}),
        ],
    )
    warehouse = workdir / "w.duckdb"
    build(landing, warehouse, tracking_plan_mode="flag")
    assert query(warehouse, "select event_id, properties::varchar from marts.fct_events order by event_id") == [
        ("big", '{"order_id":"o-1"}'),
        ("fine", '{"order_id":"o-2","revenue":999999999999.5}'),
    ]
