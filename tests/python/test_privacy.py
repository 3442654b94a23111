"""Personal data where senders put it: identifiers, event names and encoded text, by hand."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from conftest import TEST_PII_KEY, build, message, query, snapshot, write_lines
from event_analytics.catalogue import PERSONAL_NAME, write_catalogue
from event_analytics.cli import app
from event_analytics.pipeline import run_dbt
from event_analytics.plan import read_plan
from event_analytics.project import EXIT_CONFIG_ERROR
from event_analytics.state import quarantine_text_to_expire

EMAIL_ID = "Ivan.Petrov@Example.com"
UUID = "123e4567-e89b-12d3-a456-426614174000"


def hashed_id(value: str) -> str:
    """An identifier's HMAC: of the value as sent, not lower-cased (identifiers are keys)."""
    return hmac.new(TEST_PII_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def mart_text(warehouse: Path) -> str:
    """Every value of every marts relation, as text."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        relations = con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
        return "\n".join(
            str(row) for (name,) in relations for row in con.execute(f"select * from marts.{name}").fetchall()
        )


def two_devices(user_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run 1: device d1 logs in and browses, d2 browses anonymously. Run 2: d2 logs in."""
    first = [
        message("m1", "2026-10-01T10:00:00Z", type="identify", anonymous_id="d1", user_id=user_id),
        message("m2", "2026-10-01T10:05:00Z", anonymous_id="d1", properties={"product_id": "p"}),
        message("m3", "2026-10-02T09:00:00Z", anonymous_id="d2", properties={"product_id": "p"}),
    ]
    second = [message("m4", "2026-10-03T09:00:00Z", type="identify", anonymous_id="d2", user_id=user_id)]
    return first, second


def build_two_runs(workdir: Path, user_id: str) -> Path:
    first, second = two_devices(user_id)
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    write_lines(landing / "1.jsonl", first)
    build(landing, warehouse)
    write_lines(landing / "2.jsonl", second)
    build(landing, warehouse)
    return warehouse


def test_an_email_user_id_is_stitched_as_a_plain_id_is_and_reaches_no_mart(workdir: Path) -> None:
    plain = build_two_runs(workdir / "plain", "user-1")
    email = build_two_runs(workdir / "email", EMAIL_ID)
    by_event = "select event_id, user_id, user_key, session_id is not null from marts.fct_events order by 1"
    key = hashed_id(EMAIL_ID)
    # the same stitching: all four events (both devices, both runs) belong to the one user
    assert [row[2] for row in query(plain, by_event)] == ["user-1"] * 4
    assert [row[2] for row in query(email, by_event)] == [key] * 4
    assert query(
        email, "select user_key, user_id, device_count, event_count, user_id_is_hashed from marts.dim_users"
    ) == [(key, key, 2, 4, True)]
    assert query(plain, "select user_id_is_hashed from marts.dim_users") == [(False,)]
    text = mart_text(email).lower()
    assert "ivan" not in text and "example.com" not in text


def test_identifiers_matching_a_pattern_are_hashed_and_uuids_kept(workdir: Path) -> None:
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    write_lines(
        landing / "a.jsonl",
        [
            message("+1 555 123 4567", "2026-10-01T10:00:00Z", anonymous_id="10.1.2.3"),
            message(UUID, "2026-10-01T10:01:00Z", anonymous_id=UUID),
            message("m3", "2026-10-01T10:02:00Z", anonymous_id="d3", type="group", groupId="billing@acme.io"),
            # the same phone messageId again: a duplicate of the first, found on the hashed key
            message("+1 555 123 4567", "2026-10-01T10:03:00Z", anonymous_id="10.1.2.3"),
        ],
    )
    build(landing, warehouse)
    assert sorted(query(warehouse, "select event_id, anonymous_id, group_id from marts.fct_events")) == sorted(
        [
            (hashed_id("+1 555 123 4567"), hashed_id("10.1.2.3"), None),
            (UUID, UUID, None),
            ("m3", "d3", hashed_id("billing@acme.io")),
        ]
    )
    assert query(warehouse, "select event_id, line_number from quarantine.duplicate_events") == [
        (hashed_id("+1 555 123 4567"), 4)
    ]
    assert "555 123" not in mart_text(warehouse) and "acme" not in mart_text(warehouse)


@pytest.mark.parametrize("mode", ["enforce", "flag"])
def test_an_event_name_holding_personal_data_is_quarantined_in_both_modes(workdir: Path, mode: str) -> None:
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    write_lines(
        landing / "a.jsonl",
        [
            message("m1", "2026-10-01T10:00:00Z", anonymous_id="d1", event="Invite sent to jane%40example.com"),
            message("m2", "2026-10-01T10:01:00Z", anonymous_id="d1", event="4111 1111 1111 1111"),
            message("m3", "2026-10-01T10:02:00Z", anonymous_id="d1", properties={"product_id": "p"}),
        ],
    )
    build(landing, warehouse, tracking_plan_mode=mode)
    assert query(warehouse, "select line_number, reason, violations from quarantine.rejected_events order by 1") == [
        (1, "unplanned_event", "event name holds personal data"),
        (2, "unplanned_event", "event name holds personal data"),
    ]
    assert query(warehouse, "select event_id from marts.fct_events") == [("m3",)]
    assert query(warehouse, "select count(*) from staging.stg_segment__events where event_name is not null") == [(1,)]


def test_query_parameters_decode_as_browsers_encode_them(workdir: Path) -> None:
    """A plus is a space in a query string (a phone sent as 555+123+4567 is a phone); an escape that
    does not decode to UTF-8 (%C3x) is kept as sent, never a failed build (it was exit 3)."""
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    urls = [
        "https://shop.example/search?q=555+123+4567&tab=1",
        "https://shop.example/search?q=%C3x&tab=2",
        "https://shop.example/search?q=a+b&tab=3",
    ]
    write_lines(
        landing / "a.jsonl",
        [
            message(f"m{i}", f"2026-10-01T10:00:0{i}Z", anonymous_id="d1", context={"page": {"url": url}})
            for i, url in enumerate(urls, start=1)
        ],
    )
    build(landing, warehouse)
    assert query(warehouse, "select event_id, page_url from marts.fct_events order by 1") == [
        ("m1", "https://shop.example/search?tab=1"),
        ("m2", "https://shop.example/search?q=%C3x&tab=2"),
        ("m3", "https://shop.example/search?q=a+b&tab=3"),
    ]


def test_encoded_personal_data_is_redacted_keeping_the_rest_as_sent(workdir: Path) -> None:
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    context = {
        "page": {
            "path": "/u/ivan%40example.com/settings%20page",
            "url": "https://shop.example/u/ivan%2540example.com?tab=1",
            "title": "Profile of ivan&#64;example.com",
        }
    }
    write_lines(
        landing / "a.jsonl",
        [
            message(
                "m1",
                "2026-10-01T10:00:00Z",
                anonymous_id="d1",
                event="search_performed",
                properties={"search_term": "ivan\\u0040example.com&#x40;"},
                context=context,
            ),
        ],
    )
    build(landing, warehouse)
    row = query(warehouse, "select page_path, page_url, properties ->> 'search_term' from marts.fct_events")
    assert row == [("/u/[email]/settings%20page", "https://shop.example/u/[email]?tab=1", "[email]&#x40;")]
    assert "ivan" not in mart_text(warehouse)


def test_incremental_runs_equal_a_full_refresh_with_hashed_identifiers(workdir: Path) -> None:
    warehouse = build_two_runs(workdir, EMAIL_ID)
    incremental = snapshot(warehouse)
    build(workdir / "landing", warehouse, full_refresh=True)
    assert snapshot(warehouse) == incremental


def test_plan_docs_mask_personal_names_and_escape_markup(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    hostile = "<script>alert(1)</script> [click](javascript:alert(1)) *x*"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts; create schema staging")
        con.execute("create table marts.fct_events as select ? as event_name", [hostile])
        con.execute(
            "create table staging.stg_segment__events as select * from (values "
            "(null, 'event name holds personal data'), (null, 'event name holds personal data'), "
            "(?, 'unplanned_event')) as t(event_name, violations)",
            [hostile],
        )
    markdown = write_catalogue(read_plan(), warehouse, tmp_path / "plan.md", "markdown").read_text()
    assert f"| {PERSONAL_NAME.replace('(', chr(92) + '(').replace(')', chr(92) + ')')} | 0 | 2 |" in markdown
    assert "<script>" not in markdown and "](javascript:" not in markdown and " *x*" not in markdown
    assert "&lt;script&gt;alert\\(1\\)&lt;/script&gt; \\[click\\]\\(javascript:alert\\(1\\)\\) \\*x\\*" in markdown
    page = write_catalogue(read_plan(), warehouse, tmp_path / "plan.html", "html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page


@pytest.mark.parametrize(
    "text",
    [
        "{retention_event: \"{{ env_var('EVENT_ANALYTICS_PII_KEY') }}\"}",
        "{funnels: [{name: f, steps: ['{% if true %}a{% endif %}'], window_days: 1}]}",
        "{experiment_control_variant: \"env_var('HOME')\"}",
    ],
)
def test_vars_holding_templates_are_refused_with_exit_2(workdir: Path, text: str) -> None:
    write_lines(workdir / "landing" / "a.jsonl", [message("m1", "2026-10-01T10:00:00Z", anonymous_id="d1")])
    args = ["run", "--landing", str(workdir / "landing"), "--warehouse", str(workdir / "w.duckdb"), "--vars", text]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == EXIT_CONFIG_ERROR, result.output
    assert "vars are data, not templates" in result.output
    assert not (workdir / "w.duckdb").exists()


def test_a_split_weight_must_be_a_number(workdir: Path) -> None:
    write_lines(workdir / "landing" / "a.jsonl", [message("m1", "2026-10-01T10:00:00Z", anonymous_id="d1")])
    split = {"exp": {"control": "1) or (1=1", "treatment": 1}}
    result = run_dbt(
        "run",
        landing=workdir / "landing",
        warehouse=workdir / "w.duckdb",
        dbt_vars={"experiment_expected_split": split},
    )
    assert not result.ok
    assert 'experiment_expected_split: a weight must be a number >= 0, not "1) or (1=1"' in result.output


def test_quarantine_text_is_cleared_after_the_retention_keeping_rows_and_reasons(workdir: Path) -> None:
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    first = [
        message("m1", "2026-10-01T10:00:00Z", anonymous_id="jane@example.com", event="signup jane@example.com"),
        message("m2", "2026-10-01T10:01:00Z", anonymous_id="d1"),
        message("m2", "2026-10-01T10:02:00Z", anonymous_id="d1"),
    ]
    write_lines(landing / "1.jsonl", [*first, "not json jane@example.com"])
    build(landing, warehouse)
    # a scheduled run with nothing new still runs when text is past its retention
    assert not quarantine_text_to_expire(warehouse, 30)
    assert quarantine_text_to_expire(warehouse, 0)
    write_lines(landing / "2.jsonl", ["{broken jane@example.com"])
    # 0 days: what earlier runs wrote is past it, this run's rows are not
    result = run_dbt("build", landing=landing, warehouse=warehouse, dbt_vars={"quarantine_retention_days": 0})
    assert result.ok, result.failure_reason()
    rejected = "select source_file, line_number, reason, raw_line is not null from quarantine.rejected_events"
    assert sorted(query(warehouse, rejected)) == [
        ("1.jsonl", 1, "unplanned_event", False),
        ("1.jsonl", 4, "invalid_json", False),
        ("2.jsonl", 1, "invalid_json", True),
    ]
    assert query(warehouse, "select line_number, raw_line from quarantine.duplicate_events") == [(3, None)]
    staged = "select line_number, raw_line is not null from staging.stg_segment__events where reject_reason is not null"
    assert sorted(query(warehouse, staged)) == [(1, False), (1, True), (4, False)]


def privacy_fixture() -> list[dict[str, Any]]:
    """Personal data in every place senders put it; every planted value holds a token below."""
    t = "2026-10-01T10:0{}:00Z"
    campaign = {"source": "plantedUtm@example.org"}
    return [
        message(
            "m1",
            t.format(0),
            type="identify",
            user_id="plantedUser@example.org",
            anonymous_id="plantedAnon@example.org",
            traits={"email": "plantedTrait@example.org", "name": "Planted Person"},
        ),
        message(
            "+44 20 7946 0958",
            t.format(1),
            anonymous_id="203.0.113.77",
            properties={"product_id": "p1", "category": "seen from 2001:db8:1:2::77"},
            context={
                "ip": "203.0.113.77",
                "campaign": campaign,
                "page": {
                    "path": "/u/plantedPath%40example.org",
                    "url": "https://x.example/a?next=%2Fu%2FplantedUrl%2540example.org&tab=1",
                    "referrer": "https://mail.example/?u=plantedRef&#64;example.org",
                    "title": "Hi plantedTitle\\u0040example.org",
                },
            },
        ),
        message("m3", t.format(2), anonymous_id="2001:db8:1:2::78", event="Paid 4111 1111 1111 1111"),
        message(
            "m4",
            t.format(3),
            anonymous_id="2001:db8:1:2::78",
            event="Order Completed",
            properties={
                "order_id": "o1",
                "revenue": 10,
                "products": [{"product_id": "p1", "name": "gift for plantedNested&#64;example.org"}],
            },
        ),
        message(
            "m5",
            t.format(4),
            anonymous_id="plantedAnon@example.org",
            event="search_performed",
            properties={"search_term": "plantedSearch%2540example.org"},
        ),
        message("m6", t.format(5), type="page", anonymous_id="d6", name="Profile plantedPage@example.org"),
        message(
            "m7",
            t.format(6),
            type="group",
            user_id="plantedUser@example.org",
            groupId="plantedGroup@example.org",
            traits={"name": "Acme", "email": "plantedGroupTrait@example.org", "phone": "+1 555 123 4567"},
        ),
        message(
            "m8",
            t.format(7),
            type="alias",
            previousId="plantedAnon@example.org",
            user_id="plantedUser2@example.org",
        ),
    ]


PLANTED_TOKENS = [b"planted", b"7946 0958", b"4111 1111", b"203.0.113.77", b"2001:db8:1:2::7", b"555 123"]


def written_files(root: Path) -> list[Path]:
    """What a run wrote below `root`, but the landing files (the input) and the warehouse file
    (its quarantine schema keeps raw lines by design; its marts are checked by query)."""
    skipped = {".duckdb", ".wal"}
    return [
        path
        for path in root.rglob("*")
        if path.is_file() and "landing" not in path.relative_to(root).parts and path.suffix not in skipped
    ]


@pytest.mark.parametrize("mode", ["enforce", "flag"])
def test_the_privacy_fixture_leaves_no_planted_value_outside_quarantine(workdir: Path, mode: str) -> None:
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    write_lines(landing / "a.jsonl", privacy_fixture())
    args = [
        "run",
        "--landing",
        str(landing),
        "--warehouse",
        str(warehouse),
        "--vars",
        f"{{tracking_plan_mode: {mode}}}",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert query(warehouse, "select count(*) from marts.fct_events") == [(7,)]
    assert query(warehouse, "select reason, violations from quarantine.rejected_events") == [
        ("unplanned_event", "event name holds personal data")
    ]
    text = mart_text(warehouse).lower().encode()
    assert [token for token in PLANTED_TOKENS if token.lower() in text] == []
    leaks = {
        str(path.relative_to(workdir)): token
        for path in written_files(workdir)
        for token in PLANTED_TOKENS
        if token.lower() in path.read_bytes().lower()
    }
    assert leaks == {}
    # dbt's log, the target folder, Data Docs, the serving copy and the report are all below workdir
    assert workdir / "logs" / "dbt.log" in written_files(workdir)
    assert query(warehouse, "select count(*) from quarantine.rejected_events where raw_line like '%4111 1111%'") == [
        (1,)
    ]


def test_data_docs_show_sampled_values_as_text_not_markup(workdir: Path) -> None:
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    hostile = "<script>alert('docs')</script>"
    write_lines(landing / "a.jsonl", [message("m1", "2026-10-01T10:00:00Z", anonymous_id="d1", event=hostile)])
    args = ["run", "--landing", str(landing), "--warehouse", str(warehouse), "--vars", "{tracking_plan_mode: flag}"]
    result = CliRunner().invoke(app, args)
    # flag mode keeps the unplanned name; the suite on fct_events.event_name reports it (a warning)
    assert result.exit_code == 0, result.output
    assert "expect_column_values_to_be_in_set" in result.stderr
    pages = [page.read_text(errors="replace") for page in (workdir / "data_docs").rglob("*.html")]
    assert any("&lt;script&gt;alert(" in page for page in pages)
    assert not [page for page in pages if hostile in page]
