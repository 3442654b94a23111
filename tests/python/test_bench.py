"""Which generated files the benchmark's incremental run adds, and the baseline's own timings."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from event_analytics.bench import baseline_stages_file, measured_baseline, split_last_day


def test_incremental_run_gets_the_last_simulated_day_and_the_stragglers_after_it() -> None:
    names = ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05"]
    files = [Path("cache") / part / f"{name}.jsonl.gz" for part in ("part-0", "part-1") for name in names]
    # three simulated days: 10-03 is the last; 10-04 and 10-05 hold late deliveries of it
    full, new = split_last_day(files, days=3)
    assert [str(path) for path in full] == [
        "cache/part-0/2026-10-01.jsonl.gz",
        "cache/part-0/2026-10-02.jsonl.gz",
        "cache/part-1/2026-10-01.jsonl.gz",
        "cache/part-1/2026-10-02.jsonl.gz",
    ]
    assert sorted(path.name for path in new) == sorted(
        ["2026-10-03.jsonl.gz", "2026-10-04.jsonl.gz", "2026-10-05.jsonl.gz"] * 2
    )


def message(message_id: str, received_at: str) -> str:
    return json.dumps(
        {
            "messageId": message_id,
            "type": "track",
            "event": "product_viewed",
            "anonymousId": "a1",
            "timestamp": "2026-10-01T10:00:00Z",
            "receivedAt": received_at,
        }
    )


def test_baseline_times_each_statement_by_the_table_it_creates(tmp_path: Path) -> None:
    first, second = tmp_path / "2026-10-01.jsonl", tmp_path / "2026-10-02.jsonl"
    first.write_text(
        message("m1", "2026-10-01T10:00:05Z") + "\n{not json\n" + message("m2", "2026-10-01T10:00:06Z") + "\n"
    )
    # a later copy of m1: the baseline discards it
    second.write_text(message("m1", "2026-10-02T08:00:00Z") + "\n")
    database = tmp_path / "baseline.duckdb"
    measured = measured_baseline([first, second], database, "1GB")
    assert list(measured.stage_seconds) == [
        "settings",
        "typed",
        "rejected",
        "dup_losers",
        "events",
        "identity_map",
        "sessionized",
        "sessions",
        "funnel",
        "retention",
    ]
    assert all(seconds >= 0 for seconds in measured.stage_seconds.values())
    assert sum(measured.stage_seconds.values()) <= measured.wall_seconds
    assert not baseline_stages_file(database).exists()
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("select count(*) from rejected").fetchone() == (1,)
        assert con.execute("select source_file, line_number from dup_losers").fetchall() == [(str(second), 1)]
        assert con.execute("select event_id from events order by 1").fetchall() == [("m1",), ("m2",)]
