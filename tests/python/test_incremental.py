"""Incremental runs give exactly the rows of a full refresh over the same files."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from conftest import build, message, query, snapshot, write_lines
from event_analytics.generate import GenerateOptions, generate
from event_analytics.pipeline import dbt_command, dbt_environment
from event_analytics.project import project_dir

BATCH_1 = [
    # Device a1 browses anonymously: sessions [10:00, 10:10] and [11:00] (a 50-minute gap).
    message("p1", "2026-10-01T10:00:00Z", anonymous_id="a1", type="page", context={"campaign": {"source": "google"}}),
    message("p2", "2026-10-01T10:10:00Z", anonymous_id="a1"),
    message("p3", "2026-10-01T11:00:00Z", anonymous_id="a1", event="product_added"),
    # Device a2, anonymous for now.
    message("q1", "2026-10-01T09:00:00Z", anonymous_id="a2"),
    # X is received at 12:00:05 here; batch 2 brings a copy received earlier.
    message("x", "2026-10-01T12:00:00Z", received_at="2026-10-01T12:00:05Z", user_id="u7"),
    "not json at all",
]
BATCH_2 = [
    # A late event lands between a1's sessions and merges them (25-minute gaps).
    message("late", "2026-10-01T10:35:00Z", received_at="2026-10-03T08:00:00Z", anonymous_id="a1"),
    # a1 logs in days later: its whole anonymous history re-keys to u1.
    message("login", "2026-10-03T08:00:00Z", type="identify", anonymous_id="a1", user_id="u1"),
    # An earlier-received copy of x: it becomes the kept copy and batch 1's copy a duplicate.
    message("x", "2026-10-01T12:00:00Z", received_at="2026-10-01T12:00:01Z", user_id="u7"),
    # A later-received copy of p2: a duplicate.
    message("p2", "2026-10-01T10:10:00Z", received_at="2026-10-03T09:00:00Z", anonymous_id="a1"),
    # a2 shows up with a userId: stitched.
    message("q2", "2026-10-03T09:00:00Z", anonymous_id="a2", user_id="u2"),
    '{"messageId": "m", "type": "track"',
]


def full_refresh_of(
    landing: Path, workdir: Path, prepare: Callable[[Path], None] | None = None, **dbt_vars: object
) -> dict:
    """The contract relations as a from-scratch build over the same files gives them (`prepare`
    readies the new warehouse first)."""
    # the file named as the tests' warehouses (dbt's catalog name), so that dbt reuses their parse
    reference = workdir / "reference" / "w.duckdb"
    reference.parent.mkdir()
    if prepare is not None:
        prepare(reference)
    build(landing, reference, full_refresh=True, **dbt_vars)
    return snapshot(reference)


def edited_channel_rules(warehouse: Path) -> None:
    """As if a team had edited seeds/channel_groupings.csv and `dbt seed` had loaded it: Organic
    Search renamed Search. (These builds are `dbt run`s, which load no seed, so the models read
    the seed's table when there is one, else its file: macros/reference_data.sql.)"""
    csv_file = project_dir() / "seeds" / "channel_groupings.csv"
    schema = f'"{warehouse.stem}".reference'  # the catalog is named after the file
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"create schema if not exists {schema}")
        con.execute(
            f"create or replace table {schema}.channel_groupings as "
            "select cast(rule_order as integer) as rule_order,"
            " replace(channel_group, 'Organic Search', 'Search') as channel_group,"
            " * exclude (rule_order, channel_group) "
            f"from read_csv('{csv_file}', header = true, all_varchar = true)"
        )


def original_channel_rules(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f'drop table "{warehouse.stem}".reference.channel_groupings')


def two_batches(landing: Path) -> None:
    write_lines(landing / "2026-10-01.jsonl", BATCH_1)
    write_lines(landing / "later" / "2026-10-03.jsonl", BATCH_2)


@pytest.fixture(scope="module")
def full_refresh_reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("reference")
    two_batches(root / "landing")
    build(root / "landing", root / "w.duckdb", full_refresh=True)
    return snapshot(root / "w.duckdb")


def test_batch_then_batch_equals_full_refresh(workdir: Path, full_refresh_reference: dict) -> None:
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    write_lines(landing / "2026-10-01.jsonl", BATCH_1)
    build(landing, warehouse)
    assert query(warehouse, "select count(*) from marts.fct_sessions where anonymous_id = 'a1'") == [(2,)]
    write_lines(landing / "later" / "2026-10-03.jsonl", BATCH_2)
    build(landing, warehouse)
    assert snapshot(warehouse) == full_refresh_reference

    # The rules behind the equality, spelled out.
    assert query(
        warehouse,
        "select count(*), min(started_at), max(ended_at), any_value(user_key), any_value(event_count) "
        "from marts.fct_sessions where anonymous_id = 'a1' and started_at < '2026-10-02'",
    )[0][0:5] == (1, *query(warehouse, "select timestamp '2026-10-01 10:00', timestamp '2026-10-01 11:00'")[0], "u1", 4)
    assert query(warehouse, "select distinct user_key from marts.fct_events where anonymous_id = 'a1'") == [("u1",)]
    assert query(warehouse, "select user_key from marts.fct_events where event_id = 'q1'") == [("u2",)]
    assert query(
        warehouse, "select event_id, source_file, line_number from quarantine.duplicate_events order by 1"
    ) == [("p2", "later/2026-10-03.jsonl", 4), ("x", "2026-10-01.jsonl", 5)]
    # The displaced copy's text comes back verbatim from its file.
    assert query(warehouse, "select raw_line from quarantine.duplicate_events where event_id = 'x'") == [
        (json.dumps(BATCH_1[4]),)
    ]
    assert query(warehouse, "select source_file from marts.fct_events where event_id = 'x'") == [
        ("later/2026-10-03.jsonl",)
    ]
    assert query(
        warehouse,
        "select user_key, device_count, session_count, event_count, first_utm_source "
        "from marts.dim_users where user_key = 'u1'",
    ) == [("u1", 1, 2, 5, "google")]


def test_a_copy_that_moves_an_event_to_another_device_empties_the_old_one(workdir: Path) -> None:
    """Copies of one messageId from two devices (not what a retry sends, but the data allows it):
    the one received first wins, so the event leaves d1, which is left with nothing."""
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    write_lines(
        landing / "2026-10-01.jsonl",
        [
            message("v", "2026-10-01T12:00:00Z", received_at="2026-10-01T12:00:05Z", anonymous_id="d1"),
            message("w", "2026-10-01T13:00:00Z", anonymous_id="d3"),
        ],
    )
    build(landing, warehouse)
    assert query(warehouse, "select user_key from marts.dim_users order by 1") == [("d1",), ("d3",)]
    write_lines(
        landing / "2026-10-02.jsonl",
        [message("v", "2026-10-01T12:00:00Z", received_at="2026-10-01T12:00:01Z", anonymous_id="d2")],
    )
    build(landing, warehouse)
    assert snapshot(warehouse) == full_refresh_of(landing, workdir)
    assert query(warehouse, "select anonymous_id, event_count from marts.fct_sessions order by 1") == [
        ("d2", 1),
        ("d3", 1),
    ]
    assert query(warehouse, "select user_key from marts.dim_users order by 1") == [("d2",), ("d3",)]
    assert query(
        warehouse,
        "select partition_key, user_key, is_current from intermediate.int_identity__user_partitions order by 1, 3",
    ) == [
        ("anonymous_id:d1", "d1", False),
        ("anonymous_id:d2", "d2", True),
        ("anonymous_id:d3", "d3", True),
    ]


def test_a_new_day_rewrites_each_device_only_from_the_first_session_it_can_touch(workdir: Path) -> None:
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    write_lines(
        landing / "day1.jsonl",
        [
            # a1: sessions at 09:00 and 15:00; a4: one at 10:00; a3: at 09:00 and 12:00
            message("a1-1", "2026-10-01T09:00:00Z", anonymous_id="a1"),
            message("a1-2", "2026-10-01T15:00:00Z", anonymous_id="a1"),
            message("a4-1", "2026-10-01T10:00:00Z", anonymous_id="a4"),
            message("a3-1", "2026-10-01T09:00:00Z", received_at="2026-10-01T14:00:10Z", anonymous_id="a3"),
            message("a3-2", "2026-10-01T12:00:00Z", anonymous_id="a3"),
        ],
    )
    build(landing, warehouse)
    write_lines(
        landing / "day2.jsonl",
        [
            # 20 minutes after a1's second session: joins it, so a1 is rewritten from 15:00
            message("a1-3", "2026-10-01T15:20:00Z", received_at="2026-10-02T08:00:00Z", anonymous_id="a1"),
            # two hours after a4's session: a new one, a4 is rewritten from the new event
            message("a4-2", "2026-10-01T12:00:00Z", received_at="2026-10-02T08:00:00Z", anonymous_id="a4"),
            # a copy of a3-1 received earlier, with another time: it wins and moves the event after
            # a3-2, so a3 is rewritten whole (a3-2 now starts the device's first session)
            message("a3-1", "2026-10-01T13:00:00Z", received_at="2026-10-01T14:00:05Z", anonymous_id="a3"),
        ],
    )
    build(landing, warehouse)
    rows = query(
        warehouse,
        "select event_id, session_index, is_session_start, _processed_at = max(_processed_at) over () "
        "from intermediate.int_events__sessionized order by event_id",
    )
    assert rows == [
        ("a1-1", 1, True, False),  # left as written by the first run
        ("a1-2", 2, True, True),
        ("a1-3", 2, False, True),
        ("a3-1", 2, True, True),
        ("a3-2", 1, True, True),
        ("a4-1", 1, True, False),
        ("a4-2", 2, True, True),
    ]
    assert snapshot(warehouse) == full_refresh_of(landing, workdir)


def test_analysis_vars_and_seeds_changed_and_changed_back_recompute_every_user(
    workdir: Path, full_refresh_reference: dict
) -> None:
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    two_batches(landing)
    build(landing, warehouse)
    assert query(warehouse, "select distinct channel_group from marts.fct_sessions where utm_source = 'google'") == [
        ("Organic Search",)
    ]
    changed = {
        "funnels": [{"name": "browse", "steps": ["product_viewed", "product_added"], "window_days": 1}],
        "retention_grain": "month",
        "retention_mode": "rolling",
        "retention_event": "product_added",
        "active_user_events": ["product_added"],
        "attribution_lookback_days": 1,
        "path_max_steps": 1,
        "path_top_pairs": 1,
    }
    # No new files: only the settings and a seed changed, so no user's events moved.
    edited_channel_rules(warehouse)
    build(landing, warehouse, **changed)
    assert snapshot(warehouse) == full_refresh_of(landing, workdir, prepare=edited_channel_rules, **changed)
    assert query(warehouse, "select distinct funnel_name from marts.funnel_conversions") == [("browse",)]
    # the sessions built before the edit took the new rule: fct_sessions is incremental
    assert query(warehouse, "select distinct channel_group from marts.fct_sessions where utm_source = 'google'") == [
        ("Search",)
    ]
    # only u1 (a1, re-keyed) added a product: the one active user, on its one day
    daily = "select cast(date_day as varchar), active_users from marts.active_users where grain = 'day'"
    assert query(warehouse, daily) == [("2026-10-01", 1)]
    # Back to the first settings and rules: rows stored under them before are stale, as every user
    # and session was recomputed with the others in between.
    original_channel_rules(warehouse)
    build(landing, warehouse)
    assert snapshot(warehouse) == full_refresh_reference


def test_session_timeout_changed_and_changed_back_resessionizes_every_device(
    workdir: Path, full_refresh_reference: dict
) -> None:
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    two_batches(landing)
    build(landing, warehouse)
    # a1's events 25 minutes apart split into sessions of their own at 10 minutes
    build(landing, warehouse, session_timeout_minutes=10)
    assert snapshot(warehouse) == full_refresh_of(landing, workdir, session_timeout_minutes=10)
    build(landing, warehouse)
    assert snapshot(warehouse) == full_refresh_reference


def test_device_restitched_twice_while_the_per_user_marts_did_not_run(workdir: Path) -> None:
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    batches = [
        # Device a1 views and adds a product anonymously; u9 views one.
        [
            message("v1", "2026-10-01T10:00:00Z", anonymous_id="a1"),
            message("add1", "2026-10-01T10:05:00Z", anonymous_id="a1", event="product_added"),
            message("v9", "2026-10-01T10:00:00Z", user_id="u9"),
        ],
        # a1 logs in as u1: its anonymous events move from user a1 to u1 ...
        [message("login1", "2026-10-02T08:00:00Z", type="identify", anonymous_id="a1", user_id="u1")],
        # ... and later as u2: they move on to u2; u1 keeps only its own identify call.
        [message("login2", "2026-10-03T08:00:00Z", type="identify", anonymous_id="a1", user_id="u2")],
    ]
    write_lines(landing / "day1.jsonl", batches[0])
    build(landing, warehouse)
    assert sorted(query(warehouse, "select funnel_name, user_key, level from marts.funnel_conversions")) == [
        ("checkout", "a1", 2),
        ("checkout", "u9", 1),
    ]
    write_lines(landing / "day2.jsonl", batches[1])
    # As if the run died after sessionizing: the per-user marts still hold user a1.
    build(
        landing,
        warehouse,
        select="stg_segment__events int_events__deduplicated int_identity__anonymous_users "
        "int_events__sessionized int_identity__user_partitions",
    )
    write_lines(landing / "day3.jsonl", batches[2])
    build(landing, warehouse)
    pairs = query(
        warehouse,
        "select user_key, is_current, _processed_at = max(_processed_at) over () as stamped_by_last_run "
        "from intermediate.int_identity__user_partitions where partition_key = 'anonymous_id:a1' order by user_key",
    )
    # a1 was retired by the run before (its stamp kept): it still names a user whose rows must go
    assert pairs == [("a1", False, False), ("u1", True, True), ("u2", True, True)]
    assert sorted(query(warehouse, "select funnel_name, user_key, level from marts.funnel_conversions")) == [
        ("checkout", "u2", 2),
        ("checkout", "u9", 1),
    ]
    assert sorted(query(warehouse, "select user_key, event_count from marts.dim_users")) == [
        ("u1", 1),
        ("u2", 3),
        ("u9", 1),
    ]
    assert snapshot(warehouse) == full_refresh_of(landing, workdir)


def test_rerun_without_new_files_changes_nothing(workdir: Path) -> None:
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    two_batches(landing)
    build(landing, warehouse)
    before = snapshot(warehouse)
    lines_before = query(warehouse, "select count(*), max(_loaded_at) from staging.stg_segment__events")
    build(landing, warehouse)
    assert snapshot(warehouse) == before
    assert query(warehouse, "select count(*), max(_loaded_at) from staging.stg_segment__events") == lines_before


def test_run_stopped_after_some_models_then_rerun_equals_full_refresh(
    workdir: Path, full_refresh_reference: dict
) -> None:
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    write_lines(landing / "2026-10-01.jsonl", BATCH_1)
    build(landing, warehouse)
    write_lines(landing / "later" / "2026-10-03.jsonl", BATCH_2)
    # As if the run died after loading and deduplicating: later models never saw batch 2.
    build(landing, warehouse, select="stg_segment__events int_events__deduplicated rejected_events")
    build(landing, warehouse)
    assert snapshot(warehouse) == full_refresh_reference


def test_run_killed_midway_then_rerun_equals_full_refresh(workdir: Path, full_refresh_reference: dict) -> None:
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    write_lines(landing / "2026-10-01.jsonl", BATCH_1)
    build(landing, warehouse)
    write_lines(landing / "later" / "2026-10-03.jsonl", BATCH_2)
    # the vars of the builds (dbt reads no landing_path), so that the parse is theirs and quick
    command = dbt_command("run", dbt_vars={}, target_path=workdir / "target")
    proc = subprocess.Popen(
        command, cwd=project_dir(), env=dbt_environment(warehouse), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # dbt needs ~2.5 s to start; kill it while the models run.
    time.sleep(3.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    build(landing, warehouse)
    assert snapshot(warehouse) == full_refresh_reference


def test_generated_month_loaded_day_by_day_batches_equals_full_refresh(workdir: Path) -> None:
    generated = workdir / "generated"
    generate(GenerateOptions(out=generated, events=6000, users=150, days=8, faults=0.05, seed=7))
    files = sorted(generated.glob("*.jsonl.gz"))
    landing, warehouse = workdir / "landing", workdir / "w.duckdb"
    landing.mkdir()
    for batch in (files[:4], files[4:6], files[6:]):
        for path in batch:
            shutil.copy(path, landing / path.name)
        build(landing, warehouse)
    incremental = snapshot(warehouse)
    assert incremental == full_refresh_of(landing, workdir)
    # The faults are there: late and duplicate copies crossed batches, lines were rejected.
    assert len(incremental["quarantine.duplicate_events"]) > 10
    assert len(incremental["quarantine.rejected_events"]) > 10
    lines, events, dups, rejected = query(
        warehouse,
        "select (select count(*) from staging.stg_segment__events), (select count(*) from marts.fct_events),"
        " (select count(*) from quarantine.duplicate_events), (select count(*) from quarantine.rejected_events)",
    )[0]
    assert lines == events + dups + rejected


def test_full_build_sessionizing_a_bucket_of_partitions_a_statement_equals_one_statement(workdir: Path) -> None:
    generated = workdir / "generated"
    generate(GenerateOptions(out=generated, events=3000, users=80, days=4, faults=0.05, seed=11))
    one_statement = full_refresh_of(generated, workdir)
    bucketed = workdir / "bucketed.duckdb"
    # a first build of an empty warehouse, then a full refresh over the loaded one
    build(generated, bucketed, sessionize_events_per_statement=500)
    assert snapshot(bucketed) == one_statement
    build(generated, bucketed, full_refresh=True, sessionize_events_per_statement=500)
    assert snapshot(bucketed) == one_statement
    ((events,),) = query(bucketed, "select count(*) from intermediate.int_events__deduplicated")
    buckets = -(-events // 500)
    assert buckets > 2
    compiled = bucketed.parent / ".dbt-target-bucketed" / "run" / "event_analytics" / "models" / "intermediate"
    assert f"% {buckets} = /* bucket */ 0" in (compiled / "int_events__sessionized.sql").read_text()
