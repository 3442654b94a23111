"""Which generated files the benchmark's incremental run adds; the baseline's timings, reads and message shapes;
how a process tree's memory is summed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from event_analytics.bench import (
    BASELINE_READS,
    ProcessMemory,
    baseline_stages_file,
    measured_baseline,
    split_last_day,
    tree_rss_kb,
    tree_total_kb,
)


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


def message(message_id: str, received_at: str, timestamp: str = "2026-10-01T10:00:00Z") -> str:
    return json.dumps(
        {
            "messageId": message_id,
            "type": "track",
            "event": "product_viewed",
            "anonymousId": "a1",
            "timestamp": timestamp,
            "receivedAt": received_at,
        }
    )


@pytest.mark.parametrize("read", sorted(BASELINE_READS))
def test_baseline_times_each_statement_by_the_table_it_creates(tmp_path: Path, read: str) -> None:
    first, second = tmp_path / "2026-10-01.jsonl", tmp_path / "2026-10-02.jsonl"
    first.write_text(
        message("m1", "2026-10-01T10:00:05Z") + "\n{not json\n" + message("m2", "2026-10-01T10:00:06Z") + "\n"
    )
    # a later copy of m1: the baseline discards it
    second.write_text(message("m1", "2026-10-02T08:00:00Z") + "\n")
    database = tmp_path / "baseline.duckdb"
    measured = measured_baseline([first, second], database, "1GB", read)
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
        assert con.execute("select source_file, line_number from rejected").fetchall() == [(str(first), 2)]
        assert con.execute("select source_file, line_number from dup_losers").fetchall() == [(str(second), 1)]
        assert con.execute("select event_id from events order by 1").fetchall() == [("m1",), ("m2",)]


def test_parallel_read_numbers_each_files_lines_and_reads_times_in_utc_on_every_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # more files than cores, so each connection reads several; and a time zone that is not UTC, so
    # a connection without the script's `set TimeZone` reads a timestamp without offset differently
    monkeypatch.setenv("TZ", "America/New_York")
    files = []
    for day in range(1, 8):
        path = tmp_path / f"2026-10-{day:02}.jsonl"
        received = f"2026-10-{day:02}T12:00:00Z"
        path.write_text("".join(message(f"m{day}-{n}", received, "2026-10-01T10:00:00") + "\n" for n in range(day)))
        files.append(path)
    database = tmp_path / "baseline.duckdb"
    measured_baseline(files, database, "1GB", "parallel-files")
    with duckdb.connect(str(database), read_only=True) as con:
        lines = con.execute("select source_file, line_number, event_id from typed order by all").fetchall()
        times = con.execute("select distinct occurred_at::varchar from typed").fetchall()
    assert lines == sorted(
        (str(path), n + 1, f"m{day}-{n}") for day, path in enumerate(files, start=1) for n in range(day)
    )
    assert times == [("2026-10-01 10:00:00",)]


def test_baseline_unpacks_batches_and_reads_every_shape_the_pipeline_keeps(tmp_path: Path) -> None:
    members = [
        # inherits the envelope's receivedAt, sentAt and context, merged with its own context
        {
            "messageId": "b1",
            "type": "track",
            "event": "Order Completed",
            "anonymousId": "a1",
            "timestamp": "2026-10-01T10:00:00Z",
            "context": {"page": {"path": "/checkout"}},
        },
        # no messageId: quarantined alone, its batch's other members kept
        {"type": "page", "anonymousId": "a1", "timestamp": "2026-10-01T10:00:01Z"},
        # the client's clock is 1 h fast: receivedAt - (sentAt - originalTimestamp)
        {
            "messageId": "b3",
            "type": "group",
            "userId": "u1",
            "groupId": "g1",
            "originalTimestamp": "2026-10-01T11:00:02Z",
        },
    ]
    envelope = {
        "batch": members,
        "context": {"campaign": {"source": "news"}},
        "sentAt": "2026-10-01T11:00:05Z",
        "receivedAt": "2026-10-01T10:00:06Z",
    }
    alias = {
        "messageId": "m2",
        "type": "alias",
        "userId": "u1",
        "previousId": "a1",
        "originalTimestamp": "2026-10-01T10:00:07Z",
        "receivedAt": "2026-10-01T10:00:09Z",
    }
    landing = tmp_path / "2026-10-01.jsonl"
    landing.write_text(
        "\n".join([message("m1", "2026-10-01T10:00:05Z"), json.dumps(envelope), json.dumps(alias)]) + "\n"
    )
    database = tmp_path / "baseline.duckdb"
    measured_baseline([landing], database, "1GB")
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("select line_number, member_index from rejected").fetchall() == [(2, 2)]
        events = con.execute(
            "select event_id, line_number, member_index, event_name, occurred_at::varchar, received_at::varchar,"
            " page_path, utm_source from events order by line_number, member_index"
        ).fetchall()
    assert events == [
        ("m1", 1, 0, "product_viewed", "2026-10-01 10:00:00", "2026-10-01 10:00:05", None, None),
        ("b1", 2, 1, "order_completed", "2026-10-01 10:00:00", "2026-10-01 10:00:06", "/checkout", "news"),
        ("b3", 2, 3, "group_identified", "2026-10-01 10:00:03", "2026-10-01 10:00:06", None, "news"),
        ("m2", 3, 0, "user_aliased", "2026-10-01 10:00:07", "2026-10-01 10:00:09", None, None),
    ]


def test_tree_memory_counts_a_child_between_fork_and_exec_once() -> None:
    jvm = ProcessMemory(parent=10, name="java", size_kb=6_000_000, rss_kb=2_600_000)
    processes = {
        1: ProcessMemory(parent=0, name="init", size_kb=10, rss_kb=5),
        10: ProcessMemory(parent=1, name="python3", size_kb=2_000_000, rss_kb=300_000),
        11: jvm,
        # spawning a helper: the same program and sizes as the JVM, its pages the JVM's (read a
        # moment after the JVM's, which has grown by then)
        12: ProcessMemory(parent=11, name="java", size_kb=6_000_000, rss_kb=2_600_400),
        # a forked Python worker that has pages of its own by now, and its child
        13: ProcessMemory(parent=11, name="python3", size_kb=400_000, rss_kb=56_000),
        14: ProcessMemory(parent=13, name="python3", size_kb=420_000, rss_kb=1_500_000),
        # the same program as its parent with another resident size: counted
        15: ProcessMemory(parent=13, name="python3", size_kb=400_000, rss_kb=55_000),
        # outside the tree
        20: ProcessMemory(parent=1, name="java", size_kb=6_000_000, rss_kb=2_600_000),
    }
    assert tree_total_kb(processes, 10) == 300_000 + 2_600_000 + 56_000 + 1_500_000 + 55_000
    # the root itself always counts, even when it matches its parent
    assert tree_total_kb(processes, 12) == 2_600_400
    assert tree_total_kb(processes, 99) == 0


def test_tree_memory_of_this_process_and_a_child() -> None:
    """Read from /proc: a child holding 200 MB adds its own resident memory."""
    alone = tree_rss_kb(os.getpid())
    hold = "import sys, time; block = b'x' * 200_000_000; print(flush=True); time.sleep(60)"
    with subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE) as child:
        try:
            assert child.stdout is not None
            child.stdout.readline()
            with open(f"/proc/{child.pid}/status") as status:
                child_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
            assert child_kb > 195_000
            assert abs(tree_rss_kb(os.getpid()) - alone - child_kb) < 20_000
        finally:
            child.kill()
