"""The landing layer: which files are read, and what happens to files and lines it cannot take."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from conftest import message, query, write_lines
from event_analytics.cli import app
from event_analytics.ingest import plan_load
from event_analytics.landing import list_landing
from event_analytics.pipeline import run_dbt
from event_analytics.project import ConfigError, project_vars

PATTERNS = project_vars()["landing_patterns"]
runner = CliRunner()


def touch(path: Path, data: bytes = b"{}\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_both_storage_layouts_and_ours_are_listed_and_noise_is_not(tmp_path: Path) -> None:
    for name in [
        "2026-10-01.jsonl.gz",
        "2026-10-02.jsonl",
        "segment-logs/src1/1733011200000/1733011234567.a1b2c3.gz",
        "rudder-logs/src2/2026-10-01/1733011200.src2.0b1c-9f.json.gz",
        "export/part.json",
        # never events
        ".hidden.jsonl",
        "_SUCCESS",
        "_temporary/0/part-0.jsonl",
        "day.jsonl.tmp",
        "day.jsonl.gz.part",
        ".day.jsonl.crc",
        "dir/x.jsonl.crc",
        # no pattern matches: reported
        "manifest.csv",
        "notes/readme.txt",
    ]:
        touch(tmp_path / name)
    listing = list_landing(str(tmp_path), PATTERNS)
    assert [f.path for f in listing.files] == [
        "2026-10-01.jsonl.gz",
        "2026-10-02.jsonl",
        "export/part.json",
        "rudder-logs/src2/2026-10-01/1733011200.src2.0b1c-9f.json.gz",
        "segment-logs/src1/1733011200000/1733011234567.a1b2c3.gz",
    ]
    assert listing.unmatched == ["manifest.csv", "notes/readme.txt"]
    assert listing.rejected == []


def test_patterns_are_globs_below_the_root(tmp_path: Path) -> None:
    for name in ["a.jsonl", "d/a.jsonl", "d/e/a.jsonl", "d/b.json"]:
        touch(tmp_path / name)
    assert [f.path for f in list_landing(str(tmp_path), ["d/*.jsonl"]).files] == ["d/a.jsonl"]
    assert [f.path for f in list_landing(str(tmp_path), ["d/**/*.jsonl"]).files] == ["d/a.jsonl", "d/e/a.jsonl"]
    assert [f.path for f in list_landing(str(tmp_path), ["[ab].json*"]).files] == ["a.jsonl"]
    for bad in ([], "", ["../x/*.jsonl"], ["/etc/*.jsonl"], [3]):
        with pytest.raises(ConfigError):
            list_landing(str(tmp_path), bad)
    with pytest.raises(ConfigError):
        list_landing(str(tmp_path), PATTERNS, "sometimes")


def test_symlinks_are_followed_only_inside_the_root_by_default(tmp_path: Path) -> None:
    secret = touch(tmp_path / "pii.key", b"secret-key\n")
    landing = tmp_path / "landing"
    touch(landing / "real" / "a.jsonl")
    (landing / "k.jsonl").symlink_to(secret)
    (landing / "inside.jsonl").symlink_to(landing / "real" / "a.jsonl")
    (landing / "loop").symlink_to(landing)
    default = list_landing(str(landing), PATTERNS)
    assert [f.path for f in default.files] == ["inside.jsonl", "real/a.jsonl"]
    assert default.skipped_links == ["k.jsonl"]
    assert [f.path for f in list_landing(str(landing), PATTERNS, "never").files] == ["real/a.jsonl"]
    assert [f.path for f in list_landing(str(landing), PATTERNS, "always").files] == [
        "inside.jsonl",
        "k.jsonl",
        "real/a.jsonl",
    ]


def test_an_unreadable_folder_is_a_rejected_file_not_a_silent_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touch(tmp_path / "ok" / "a.jsonl")
    touch(tmp_path / "locked" / "b.jsonl")
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        # root may read any folder here, so the permission error is simulated
        if path.endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    listing = list_landing(str(tmp_path), PATTERNS)
    assert [f.path for f in listing.files] == ["ok/a.jsonl"]
    assert [(r.path, r.reason, r.detail) for r in listing.rejected] == [("locked", "unreadable", "Permission denied")]


def run_cli(landing: Path, warehouse: Path, *extra: str, validate: bool = False) -> Result:
    """`event-analytics run`; the GX suites (test_validation.py) only when asked."""
    skip = [] if validate else ["--skip-validation"]
    return runner.invoke(app, ["run", "--landing", str(landing), "--warehouse", str(warehouse), *skip, *extra])


def valid(message_id: str, minute: int = 0) -> str:
    return json.dumps(message(message_id, f"2026-10-01T10:{minute:02d}:00Z", anonymous_id="a1"))


def counts_by_file(warehouse: Path) -> dict[str, tuple[int, int, int]]:
    """(events, duplicates, rejected lines) per source_file."""
    rows = query(
        warehouse,
        "select source_file, count(*) filter (where kind = 'e'), count(*) filter (where kind = 'd'), "
        "count(*) filter (where kind = 'r') from ("
        "select source_file, 'e' as kind from marts.fct_events union all "
        "select source_file, 'd' from quarantine.duplicate_events union all "
        "select source_file, 'r' from quarantine.rejected_events) group by 1 order by 1",
    )
    return {row[0]: row[1:] for row in rows}


def test_glob_hostile_names_any_byte_and_broken_files(tmp_path: Path) -> None:
    """The issue's cases, file by file: names that are glob patterns, a root holding `[1]`, 0x01 and
    lone CRs inside lines, a Latin-1 line, a line over the limit, a truncated gzip, gzip named
    .jsonl and text named .gz, an empty and a blank-only file."""
    landing = tmp_path / "land[1]"
    write_lines(landing / "a1.jsonl", [valid("a1-1"), valid("a1-2")])
    write_lines(landing / "a[1].jsonl", [valid("bracket-1")])
    write_lines(landing / "qa.jsonl", [valid("qa-1")])
    write_lines(landing / "q?.jsonl", [valid("question-1")])
    write_lines(landing / "back\\slash.jsonl", [valid("backslash-1")])
    touch(landing / "bytes.jsonl", (valid("ctrl-a") + "\x01" + valid("after-ctrl-a") + "\n").encode())
    # a lone CR is JSON whitespace here, inside the line; CRLF ends the line
    touch(landing / "cr.jsonl", (valid("cr-1").replace(", ", ",\r", 1) + "\r\n" + valid("cr-2") + "\n").encode())
    touch(landing / "latin1.jsonl", valid("ok-1").encode() + b'\n{"name":"Jos\xe9"}\n' + valid("ok-2").encode())
    touch(landing / "long.jsonl", b'{"pad":"' + b"x" * 3000 + b'"}\n' + valid("short").encode() + b"\n")
    touch(landing / "gzip-named.jsonl", gzip.compress((valid("gz-named") + "\n").encode()))
    touch(landing / "text-named.gz", (valid("text-named") + "\n").encode())
    touch(
        landing / "truncated.jsonl.gz", gzip.compress("".join(valid(f"t{i}") + "\n" for i in range(50)).encode())[:-20]
    )
    touch(landing / "empty.jsonl", b"")
    touch(landing / "blank.jsonl", b"\n  \n\r\n")
    warehouse = tmp_path / "w.duckdb"

    first = run_cli(landing, warehouse, "--vars", "{landing_max_line_bytes: 1000}", validate=True)
    # the rejected file is a warning: every other file's rows are right, and published
    assert first.exit_code == 0, first.output
    assert "landing files rejected (no line of them loaded)" in first.stderr
    assert "warn: expect_column_values_to_be_in_set failed on rejected_files.source_file" in first.stderr
    assert (tmp_path / "serving" / "analytics.duckdb").exists()
    assert counts_by_file(warehouse) == {
        "a1.jsonl": (2, 0, 0),
        "a[1].jsonl": (1, 0, 0),
        "back\\slash.jsonl": (1, 0, 0),
        "bytes.jsonl": (0, 0, 1),
        "cr.jsonl": (2, 0, 0),
        "gzip-named.jsonl": (1, 0, 0),
        "latin1.jsonl": (2, 0, 1),
        "long.jsonl": (1, 0, 1),
        "q?.jsonl": (1, 0, 0),
        "qa.jsonl": (1, 0, 0),
        "text-named.gz": (1, 0, 0),
    }
    rejected = query(
        warehouse,
        "select source_file, line_number, reason, raw_line, raw_bytes, violations from quarantine.rejected_events "
        "order by source_file",
    )
    control_a = valid("ctrl-a") + "\x01" + valid("after-ctrl-a")
    assert rejected == [
        ("bytes.jsonl", 1, "invalid_json", control_a, None, None),
        ("latin1.jsonl", 2, "invalid_encoding", '{"name":"Jos\ufffd"}', b'{"name":"Jos\xe9"}', None),
        (
            "long.jsonl",
            1,
            "line_too_long",
            '{"pad":"' + "x" * 992,
            b'{"pad":"' + b"x" * 992,
            "line_bytes: 3010 (landing_max_line_bytes: 1000)",
        ),
    ]
    assert query(warehouse, "select source_file, reason, detail from quarantine.rejected_files") == [
        ("truncated.jsonl.gz", "unreadable", "truncated gzip stream (it ends before its last member does)")
    ]
    ledger = dict(query(warehouse, "select path, lines from meta.landing_files"))
    assert ledger["empty.jsonl"] == 0 and ledger["blank.jsonl"] == 0 and "truncated.jsonl.gz" not in ledger
    assert ledger["latin1.jsonl"] == 3 and ledger["cr.jsonl"] == 2
    # the row accounting holds file by file (the dbt data test, against the ledger)
    tested = run_dbt("test", landing=landing, warehouse=warehouse, select="lines_are_accounted_for")
    assert tested.ok and [n.status for n in tested.nodes if n.resource_type == "test"] == ["pass"]

    # Nothing new but the rejected file: it is tried (and rejected) again.
    again = run_cli(landing, warehouse)
    assert again.exit_code == 0 and "nothing to do" not in again.stderr
    assert "landing files rejected (no line of them loaded)" in again.stderr
    # Repaired, it loads whole; empty and blank files never count as work.
    touch(landing / "truncated.jsonl.gz", gzip.compress("".join(valid(f"t{i}") + "\n" for i in range(50)).encode()))
    repaired = run_cli(landing, warehouse)
    assert repaired.exit_code == 0, repaired.output
    assert counts_by_file(warehouse)["truncated.jsonl.gz"] == (50, 0, 0)
    quiet = run_cli(landing, warehouse)
    assert quiet.exit_code == 0 and "nothing to do" in quiet.stderr


def test_a_file_changed_after_loading_is_rejected_every_run_and_one_within_the_settle_time_waits(
    tmp_path: Path,
) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    write_lines(landing / "a.jsonl", [valid("a-1"), valid("a-2")])
    assert run_cli(landing, warehouse).exit_code == 0

    with (landing / "a.jsonl").open("a") as appended:
        appended.write(valid("a-3") + "\n")
    write_lines(landing / "b.jsonl", [valid("b-1")])
    # long settled, and written after its events (a file older than its receivedAt is implausible)
    os.utime(landing / "b.jsonl", (1_791_000_000, 1_791_000_000))
    write_lines(landing / "c.jsonl", [valid("c-1")])  # modified just now
    result = run_cli(landing, warehouse, "--vars", "{landing_settle_seconds: 3600}")
    assert result.exit_code == 0, result.output
    assert "changed_after_load" in result.stderr
    assert "1 file(s) modified within landing_settle_seconds wait for the next run" in result.stderr
    assert sorted(query(warehouse, "select event_id from marts.fct_events")) == [("a-1",), ("a-2",), ("b-1",)]
    ((reason, detail),) = query(warehouse, "select reason, detail from quarantine.rejected_files")
    assert reason == "changed_after_load" and detail.startswith("size ")
    # The ledger still describes what was loaded, so the change is seen again on every run.
    plan = plan_load(landing, warehouse, project_vars())
    assert [r.path for r in plan.rejected] == ["a.jsonl"] and [f.path for f in plan.files] == ["c.jsonl"]


def test_a_landing_folder_without_event_files_is_an_error_until_one_was_loaded(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    touch(landing / "export.csv", b"a,b\n")
    result = run_cli(landing, tmp_path / "w.duckdb")
    assert result.exit_code == 1
    assert "1 file(s) match no landing_patterns and are not read: export.csv" in result.stderr
    assert "no event file in" in result.stderr
