"""Property tests of the landing layer: random files of random byte lines, against a reference.

A line is the bytes between two `\\n` (one `\\r` right before the `\\n` dropped, a lone `\\r` kept);
blank means only bytes in " \\t\\n\\f\\r"; a non-blank line that is not UTF-8 is `invalid_encoding`
(its bytes kept), one longer than the limit `line_too_long` (its first bytes and its length kept);
a file is gzip when its bytes start with gzip's magic, and unreadable when that gzip is broken.
The reference below implements this from the words, with the standard library only.

- `test_reader_agrees_with_the_reference`: reader.read_lines, many examples, cheap.
- `test_pipeline_accounts_for_every_line_and_incremental_equals_full_refresh`: the real pipeline on
  random landing folders with glob-hostile names, loaded in random batches, then rebuilt in one
  full refresh: few examples, each runs dbt several times.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from conftest import build, message, query, snapshot
from event_analytics import reader
from event_analytics.pipeline import run_dbt
from event_analytics.reader import FileCounts, UnreadableFile, read_lines

# RE2's \s, staging's blank filter: not \v, not U+00A0 nor any other non-ASCII space.
BLANK_BYTES = frozenset(b" \t\n\f\r")
MIB = 1 << 20


# --- the reference ------------------------------------------------------------------------------


@dataclass
class Expected:
    """What a file should give: None for an unreadable file, else its lines by number."""

    readable: bool
    data: bytes = b""  # decompressed
    # line number -> (text, raw_bytes, issue, length) as the reader gives a non-blank line
    lines: dict[int, tuple[str, bytes | None, str | None, int | None]] = field(default_factory=dict)
    blank: dict[int, bytes] = field(default_factory=dict)


def reference_gunzip(data: bytes) -> bytes | None:
    """Every member of a gzip file, or None when it is not one whole gzip stream."""
    out, rest = [], data
    while rest:
        inflater = zlib.decompressobj(31)
        try:
            out.append(inflater.decompress(rest))
        except zlib.error:
            return None
        if not inflater.eof:
            return None
        rest = inflater.unused_data
    return b"".join(out)


def reference(file_bytes: bytes, limit: int) -> Expected:
    if file_bytes[:2] == b"\x1f\x8b":
        data = reference_gunzip(file_bytes)
        if data is None:
            return Expected(readable=False)
    else:
        data = file_bytes
    expected = Expected(readable=True, data=data)
    parts = data.split(b"\n")
    ended = [True] * (len(parts) - 1) + [False]
    if parts[-1] == b"":  # nothing after the last newline (or an empty file): no line there
        parts.pop()
        ended.pop()
    for number, (line, has_newline) in enumerate(zip(parts, ended, strict=True), start=1):
        if has_newline and line.endswith(b"\r"):
            line = line[:-1]
        if all(byte in BLANK_BYTES for byte in line):
            expected.blank[number] = line
        elif len(line) > limit:
            kept = line[:limit]
            expected.lines[number] = (kept.decode("utf-8", "replace"), kept, "line_too_long", len(line))
        else:
            try:
                expected.lines[number] = (line.decode("utf-8"), None, None, None)
            except UnicodeDecodeError:
                expected.lines[number] = (line.decode("utf-8", "replace"), line, "invalid_encoding", len(line))
    return expected


# --- random file bytes --------------------------------------------------------------------------

NEWLINES = [b"\n", b"\r\n", b"\r\r\n", b"\r", b"\n\r"]
TRICKY = [
    b" ",
    b"\t",
    b"\x0c",
    b"\x0b",  # \v: not blank
    b"\x00",
    b"\x1c",  # Python's str.isspace() says yes, RE2 says no
    b"\x1f\x8b",  # gzip's magic inside a plain file
    "\u00a0".encode(),
    "\u2028".encode(),
    "\u3000".encode(),
    "é".encode(),
    "😀".encode(),
    "😀".encode()[:2],  # a cut sequence
    b"\xc3",
    b"\xa9",
    b"\xff",
    b"\xed\xa0\x80",  # a UTF-16 surrogate: not UTF-8
    b"\xc0\x80",  # overlong
    b"\xf4\x90\x80\x80",  # above U+10FFFF
    b"{}",
    b'{"a":1}',
]


def segments(limit: int) -> st.SearchStrategy[bytes]:
    runs = st.builds(
        lambda unit, count: unit * count,
        st.sampled_from([b"x", b" ", b"\r", b"\n", b"\xff", "é".encode(), b"\r\n"]),
        st.integers(0, 2 * limit + 3),
    )
    return st.one_of(st.sampled_from(NEWLINES), st.sampled_from(TRICKY), st.binary(max_size=12), runs)


@st.composite
def file_contents(draw: st.DrawFn, limit: int) -> bytes:
    parts = draw(st.lists(segments(limit), max_size=30))
    # Rarely, a line longer than a whole decompressed piece (4 MiB), blank or not.
    if draw(st.integers(0, 24)) == 0:
        unit = draw(st.sampled_from([b"y", b" ", b"\xff"]))
        size = draw(st.integers(reader.PIECE_SIZE - 2, reader.PIECE_SIZE + MIB + 2))
        parts.insert(draw(st.integers(0, len(parts))), unit * size)
    return b"".join(parts)


@st.composite
def stored(draw: st.DrawFn, data: bytes) -> bytes:
    """The file's bytes on disk: the data as is, gzipped (maybe in several members) or a gzip cut short."""
    kind = draw(st.sampled_from(["plain", "plain", "gzip", "members", "truncated"]))
    if kind == "plain":
        return data
    level = draw(st.sampled_from([1, 6, 9]))
    if kind == "gzip":
        return gzip.compress(data, compresslevel=level, mtime=0)
    if kind == "members":
        cuts = sorted(draw(st.lists(st.integers(0, len(data)), min_size=1, max_size=3)))
        bounds = [0, *cuts, len(data)]
        return b"".join(
            gzip.compress(data[a:b], compresslevel=level, mtime=0) for a, b in zip(bounds, bounds[1:], strict=False)
        )
    whole = gzip.compress(data, compresslevel=level, mtime=0)
    return whole[: draw(st.integers(0, len(whole) - 1))]


# --- the reader against the reference -----------------------------------------------------------


def reader_lines(
    file_bytes: bytes, limit: int
) -> tuple[dict[int, tuple[str, bytes | None, str | None, int | None]], FileCounts]:
    """The reader's lines by number (each number at most once) and its counts."""
    got: dict[int, tuple[str, bytes | None, str | None, int | None]] = {}
    counts = None
    for item in read_lines("f.jsonl", lambda: io.BytesIO(file_bytes), limit):
        if isinstance(item, FileCounts):
            counts = item
            continue
        (row,) = item.to_pylist()
        if row["line_issue"] is None:
            assert row["raw_bytes"] is None and row["line_bytes"] is None
            numbered = [
                (row["first_line_number"] + i, (text, None, None, None)) for i, text in enumerate(row["text"].split("\n"))
            ]
        else:
            numbered = [
                (row["first_line_number"], (row["text"], row["raw_bytes"], row["line_issue"], row["line_bytes"]))
            ]
        for number, line in numbered:
            assert number not in got, f"line {number} given twice"
            got[number] = line
    assert counts is not None
    return got, counts


@contextlib.contextmanager
def sizes(read_size: int | None, piece_size: int | None) -> Iterator[None]:
    """The reader with smaller reads and pieces, so that small files cross their boundaries."""
    with contextlib.ExitStack() as stack:
        if read_size is not None:
            stack.enter_context(mock.patch.object(reader, "READ_SIZE", read_size))
        if piece_size is not None:
            stack.enter_context(mock.patch.object(reader, "PIECE_SIZE", piece_size))
        yield


@st.composite
def reader_cases(draw: st.DrawFn) -> tuple[bytes, int, int | None, int | None]:
    limit = draw(st.one_of(st.integers(1, 40), st.just(2 * MIB)))
    file_bytes = draw(stored(draw(file_contents(limit))))
    # None: the real sizes; READ_SIZE stays >= 2 so the magic is seen in the first read
    read_size, piece_size = draw(st.sampled_from([(None, None), (2, 1), (3, 5), (7, 2), (16, 64), (64, 16)]))
    return file_bytes, limit, read_size, piece_size


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(reader_cases())
def test_reader_agrees_with_the_reference(case: tuple[bytes, int, int | None, int | None]) -> None:
    file_bytes, limit, read_size, piece_size = case
    expected = reference(file_bytes, limit)
    with sizes(read_size, piece_size):
        if not expected.readable:
            with pytest.raises(UnreadableFile):
                reader_lines(file_bytes, limit)
            return
        got, counts = reader_lines(file_bytes, limit)
    assert (counts.lines, counts.blank_lines, counts.bytes_read) == (
        len(expected.lines),
        len(expected.blank),
        len(expected.data),
    )
    # Every non-blank line, whole; a blank one may be given (as text) or left out.
    assert {n: got[n] for n in got if n in expected.lines} == expected.lines
    for number in got.keys() - expected.lines.keys():
        assert number in expected.blank, f"line {number} does not exist or is not blank"
        assert got[number] == (expected.blank[number].decode(), None, None, None)


# --- the pipeline on random landing folders -----------------------------------------------------

# Glob-hostile and otherwise awkward name characters; a small alphabet so that a name like `*.jsonl`
# or `[ab].jsonl` often lands next to `a.jsonl`.
NAME_CHARACTERS = list("ab[]*?\\'\" {},%!-é😀") + ["\u00a0"]
SUFFIXES = [".jsonl", ".jsonl.gz", ".json", ".gz"]
IDS = [f"m{i}" for i in range(6)]
DEVICES = ["a1", "a2", "a3"]


def names() -> st.SearchStrategy[str]:
    # A name starting with . or _ is never an event file (landing.IGNORED_PREFIXES).
    return st.text(st.sampled_from(NAME_CHARACTERS), min_size=1, max_size=6)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    return f"2026-10-0{draw(st.integers(1, 3))}T1{draw(st.integers(0, 2))}:{draw(st.integers(0, 59)):02d}:00Z"


@st.composite
def segment_messages(draw: st.DrawFn) -> bytes:
    """A valid message, its messageId from a small pool so that copies meet within and across batches."""
    user = draw(st.sampled_from([None, "u1", "u2"]))
    body = message(
        draw(st.sampled_from(IDS)),
        draw(timestamps()),
        received_at=draw(timestamps()),
        event=draw(st.sampled_from(["product_viewed", "signup_started", "checkout_started"])),
        anonymous_id=draw(st.sampled_from(DEVICES)),
        user_id=user,
    )
    return json.dumps(body, ensure_ascii=draw(st.booleans())).encode()


@st.composite
def landing_lines(draw: st.DrawFn, limit: int) -> bytes:
    parts: list[bytes] = []
    for _ in range(draw(st.integers(0, 8))):
        line = draw(
            st.one_of(
                segment_messages(),
                segment_messages(),
                st.binary(max_size=10),
                st.sampled_from(TRICKY),
                st.sampled_from([b"", b" \t", b"\x0c\r", b"\x0b", "\u00a0".encode()]),
                st.builds(lambda unit, extra: unit * (limit + extra), st.sampled_from([b"z", b"\xff", b" "]), st.integers(-1, 2)),
            )
        )
        parts.append(line + draw(st.sampled_from(NEWLINES)))
    if parts and draw(st.booleans()):
        parts[-1] = parts[-1].rstrip(b"\r\n")  # the last line without its newline
    return b"".join(parts)


@dataclass
class LandingCase:
    limit: int
    files: dict[str, bytes]  # relative path (with `/`) -> bytes on disk
    batches: list[list[str]]


@st.composite
def landing_cases(draw: st.DrawFn) -> LandingCase:
    limit = draw(st.sampled_from([60, 180, 400]))
    folders = draw(st.lists(names(), max_size=2, unique=True))
    paths = draw(
        st.lists(
            st.builds(
                lambda folder, name, suffix: f"{folder}/{name}{suffix}" if folder else f"{name}{suffix}",
                st.sampled_from(["", *folders, *(f"{f}/{g}" for f in folders for g in folders)]),
                names(),
                st.sampled_from(SUFFIXES),
            ),
            min_size=3,
            max_size=9,
            unique=True,
        )
    )
    files = {path: draw(stored(draw(landing_lines(limit)))) for path in paths}
    order = draw(st.permutations(paths))
    cuts = sorted(draw(st.lists(st.integers(1, len(order) - 1), min_size=1, max_size=2, unique=True)))
    bounds = [0, *cuts, len(order)]
    return LandingCase(limit, files, [order[a:b] for a, b in zip(bounds, bounds[1:], strict=False)])


def write_files(landing: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        target = landing.joinpath(*path.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def rejected_files(warehouse: Path) -> set[tuple[Any, ...]]:
    # A file unreadable in every run gets a row each run (rejected_files' contract): compare the set.
    return set(query(warehouse, "select source_file, reason, size_bytes, detail from quarantine.rejected_files"))


def check_accounting(warehouse: Path, expected: dict[str, Expected], files: dict[str, bytes]) -> None:
    readable = {path: e for path, e in expected.items() if e.readable}
    unreadable = {path for path, e in expected.items() if not e.readable}

    # The reader's count in the ledger is ours; every readable file is in it, no other.
    ledger = dict(query(warehouse, "select path, lines from meta.landing_files"))
    assert ledger == {path: len(e.lines) for path, e in readable.items()}

    # Per file: kept events + discarded copies + quarantined lines = its non-blank lines.
    rows = dict(
        query(
            warehouse,
            "select source_file, count(*) from ("
            " select source_file from marts.fct_events union all"
            " select source_file from quarantine.duplicate_events union all"
            " select source_file from quarantine.rejected_events) group by source_file",
        )
    )
    assert {path: rows.get(path, 0) for path in readable} == {path: len(e.lines) for path, e in readable.items()}
    assert rows.keys() <= readable.keys()

    # Line by line in staging: each non-blank line once, whole where it is quarantined.
    staged: dict[str, dict[int, tuple[Any, ...]]] = {}
    for source_file, number, raw_line, raw_bytes, reason in query(
        warehouse, "select source_file, line_number, raw_line, raw_bytes, reject_reason from staging.stg_segment__events"
    ):
        assert number not in staged.setdefault(source_file, {}), (source_file, number)
        staged[source_file][number] = (raw_line, raw_bytes, reason)
    assert staged.keys() <= readable.keys()
    for path, e in readable.items():
        lines = staged.get(path, {})
        assert lines.keys() == e.lines.keys(), path
        for number, (text, raw_bytes, issue, _length) in e.lines.items():
            got_text, got_bytes, reason = lines[number]
            if issue is not None:
                assert (reason, got_bytes, got_text) == (issue, raw_bytes, text), (path, number)
            elif reason is not None:
                assert got_text == text and got_bytes is None, (path, number)

    # Every unreadable file: its row, and nothing loaded from it.
    rejected = rejected_files(warehouse)
    assert {(path, reason) for path, reason, *_ in rejected} == {(path, "unreadable") for path in unreadable}
    assert all(size == len(files[path]) for path, _, size, _ in rejected)


@settings(
    max_examples=3,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(landing_cases())
def test_pipeline_accounts_for_every_line_and_incremental_equals_full_refresh(
    workdir: Path, case: LandingCase
) -> None:
    expected = {path: reference(data, case.limit) for path, data in case.files.items()}
    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        root = Path(folder)
        landing, incremental, full = root / "landing", root / "incremental.duckdb", root / "full.duckdb"
        landing.mkdir()
        for batch in case.batches:
            write_files(landing, {path: case.files[path] for path in batch})
            build(landing, incremental, landing_max_line_bytes=case.limit)
        check_accounting(incremental, expected, case.files)
        # The project's own data test agrees.
        test = run_dbt(
            "test",
            landing=landing,
            warehouse=incremental,
            select="lines_are_accounted_for",
            dbt_vars={"landing_max_line_bytes": case.limit},
        )
        assert test.ok and [n.status for n in test.nodes] == ["pass"], test.failure_reason()

        build(landing, full, full_refresh=True, landing_max_line_bytes=case.limit)
        check_accounting(full, expected, case.files)
        assert snapshot(incremental) == snapshot(full)
        assert rejected_files(incremental) == rejected_files(full)
