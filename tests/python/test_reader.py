"""The landing reader: any byte on a line, line endings, limits, gzip, counts from the bytes."""

from __future__ import annotations

import gzip
import io
from typing import Any

import pytest

from event_analytics.reader import FileCounts, UnreadableFile, read_lines


def lines_of(data: bytes, max_line_bytes: int = 100) -> tuple[list[tuple[int, Any, Any, Any, Any]], FileCounts]:
    """(line_number, text, raw_bytes, issue, length) per line the reader gives, blank ones included,
    and the file's counts."""
    out: list[tuple[int, Any, Any, Any, Any]] = []
    counts = None
    for item in read_lines("f.jsonl", lambda: io.BytesIO(data), max_line_bytes):
        if isinstance(item, FileCounts):
            counts = item
            continue
        row = item.to_pylist()[0]
        if row["line_issue"] is None:
            for offset, text in enumerate(row["text"].split("\n")):
                out.append((row["first_line_number"] + offset, text, None, None, None))
        else:
            out.append((row["first_line_number"], row["text"], row["raw_bytes"], row["line_issue"], row["line_bytes"]))
    assert counts is not None
    return sorted(out), counts


def texts(data: bytes, max_line_bytes: int = 100) -> list[tuple[int, str]]:
    return [(number, text) for number, text, *_ in lines_of(data, max_line_bytes)[0]]


def test_a_line_is_the_bytes_between_newlines_whatever_they_are() -> None:
    # 0x01 and NUL are ordinary bytes; a lone CR stays in its line; CRLF loses its CR.
    data = b'{"a":1}\x01{"b":2}\n{"c":3}\x00x\nab\rcd\nend\r\n'
    assert texts(data) == [(1, '{"a":1}\x01{"b":2}'), (2, '{"c":3}\x00x'), (3, "ab\rcd"), (4, "end")]


def test_only_one_cr_before_the_newline_is_dropped_and_a_last_line_keeps_its_cr() -> None:
    assert texts(b"a\r\r\nb\r") == [(1, "a\r"), (2, "b\r")]


def test_blank_lines_are_numbered_and_counted_apart() -> None:
    rows, counts = lines_of(b"x\n\n  \t\r\n\x0c\ny")
    assert [(n, t) for n, t, *_ in rows] == [(1, "x"), (2, ""), (3, "  \t"), (4, "\x0c"), (5, "y")]
    assert (counts.lines, counts.blank_lines) == (2, 3)


@pytest.mark.parametrize(
    ("data", "lines", "blank"),
    [(b"", 0, 0), (b"\n", 0, 1), (b"\n\n", 0, 2), (b"a", 1, 0), (b"a\n", 1, 0), (b"a\nb", 2, 0), (b" \n", 0, 1)],
)
def test_counts_follow_the_newlines(data: bytes, lines: int, blank: int) -> None:
    counts = lines_of(data)[1]
    assert (counts.lines, counts.blank_lines) == (lines, blank)


def test_a_line_that_is_not_utf8_travels_alone_with_its_bytes() -> None:
    data = b'{"ok":1}\n{"name":"Jos\xe9"}\n{"ok":2}\n'
    rows, counts = lines_of(data)
    assert rows == [
        (1, '{"ok":1}', None, None, None),
        (2, '{"name":"Jos\ufffd"}', b'{"name":"Jos\xe9"}', "invalid_encoding", 15),
        (3, '{"ok":2}', None, None, None),
    ]
    assert counts.lines == 3


def test_a_line_over_the_limit_keeps_its_first_bytes_and_its_length() -> None:
    long_line = b"{" + b"x" * 30 + b"}"
    rows, counts = lines_of(b"a\n" + long_line + b"\r\nb\n", max_line_bytes=10)
    assert rows == [
        (1, "a", None, None, None),
        (2, "{xxxxxxxxx", b"{xxxxxxxxx", "line_too_long", 32),
        (3, "b", None, None, None),
    ]
    assert counts.lines == 3


def test_a_line_longer_than_a_whole_read_is_never_held_whole() -> None:
    # 9 MB without a newline spans several decompressed pieces (4 MiB each)
    data = b"a\n" + b"z" * 9_000_000 + b"\nb"
    rows, counts = lines_of(data, max_line_bytes=1000)
    assert [(n, issue, length) for n, _, _, issue, length in rows] == [
        (1, None, None),
        (2, "line_too_long", 9_000_000),
        (3, None, None),
    ]
    assert len(rows[1][2]) == 1000
    assert counts.lines == 3


def test_a_long_blank_line_is_blank() -> None:
    rows, counts = lines_of(b"a\n" + b" " * 50 + b"\nb", max_line_bytes=10)
    assert [(n, issue) for n, _, _, issue, _ in rows] == [(1, None), (2, None), (3, None)]
    assert (counts.lines, counts.blank_lines) == (2, 1)


def test_gzip_is_known_by_its_bytes_not_its_name() -> None:
    text = b'{"a":1}\n{"b":2}\n'
    assert texts(gzip.compress(text)) == [(1, '{"a":1}'), (2, '{"b":2}')]
    # text whose name says .gz, read as text: its bytes decide
    assert texts(text) == texts(gzip.compress(text))


def test_every_member_of_a_multi_member_gzip_is_read() -> None:
    data = gzip.compress(b"a\nb\n") + gzip.compress(b"c\n")
    assert texts(data) == [(1, "a"), (2, "b"), (3, "c")]


@pytest.mark.parametrize(
    "data",
    [
        gzip.compress(b'{"a":1}\n' * 1000)[:-30],  # truncated
        gzip.compress(b"a\n")[:10] + b"\x00" * 40,  # corrupt deflate data
        gzip.compress(b"a\n") + b"garbage after the stream",
    ],
    ids=["truncated", "corrupt", "trailing-garbage"],
)
def test_a_broken_gzip_is_unreadable_and_says_nothing_of_its_content(data: bytes) -> None:
    with pytest.raises(UnreadableFile) as raised:
        list(read_lines("f.gz", lambda: io.BytesIO(data), 100))
    assert '"a"' not in str(raised.value)
