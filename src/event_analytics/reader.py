"""Landing files to Arrow record batches of numbered lines, whatever bytes they hold.

A line is the bytes between two `\\n`; a `\\r` right before the `\\n` is dropped, a lone `\\r` is
part of the line. Text is passed on in chunks of whole lines (`text`, lines joined by `\\n`,
`first_line_number` numbering the first), which DuckDB splits: building one Arrow value per line
in Python cost more than decompressing. A line that is not valid UTF-8, or longer than
`max_line_bytes`, travels alone with `line_issue` set and its bytes in `raw_bytes`.

Gzip is recognised by its magic bytes, not by the file's name, and decompressed with ISA-L, which
releases the GIL: the pool of readers decompresses one file per core.

Every file's non-blank line count is taken here from its bytes (newline positions and whitespace),
independently of how DuckDB splits the chunks, so the warehouse's row accounting can be checked
against the files themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pyarrow as pa
from isal import isal_zlib

LINES_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("first_line_number", pa.int64()),
        ("text", pa.large_string()),
        ("raw_bytes", pa.large_binary()),
        ("line_issue", pa.string()),
        ("line_bytes", pa.int64()),
    ]
)
INVALID_ENCODING = "invalid_encoding"
LINE_TOO_LONG = "line_too_long"
GZIP_MAGIC = b"\x1f\x8b"
# Blank means only these bytes: RE2's \s, which staging's blank-line filter uses.
WHITESPACE = b" \t\n\f\r"
_WHITESPACE_CODES = np.frombuffer(WHITESPACE, dtype=np.uint8)
READ_SIZE = 1 << 20
# Decompressed bytes handed on at a time (a bound on memory whatever the compression ratio).
PIECE_SIZE = 1 << 22


class UnreadableFile(Exception):
    """The file's bytes cannot be read as a whole: I/O error, corrupt or truncated gzip. The message
    never holds file content."""


@dataclass
class FileCounts:
    """What a file held, counted from its bytes."""

    lines: int = 0  # non-blank lines
    blank_lines: int = 0
    bytes_read: int = 0  # decompressed


def _is_blank(line: bytes) -> bool:
    return not line.translate(None, WHITESPACE)


def decompressed_pieces(stream: BinaryIO) -> Iterator[bytes]:
    """The file's bytes, gunzipped when they start with gzip's magic (every member of a
    multi-member file), in pieces of at most PIECE_SIZE."""
    head = stream.read(READ_SIZE)
    if not head.startswith(GZIP_MAGIC):
        while head:
            yield head
            head = stream.read(READ_SIZE)
        return
    inflater = isal_zlib.decompressobj(31)
    pending = head
    while True:
        if not pending:
            pending = stream.read(READ_SIZE)
            if not pending:
                break
        try:
            out = inflater.decompress(pending, PIECE_SIZE)
        except isal_zlib.error as exc:
            raise UnreadableFile(f"corrupt gzip stream: {exc}") from None
        pending = inflater.unconsumed_tail
        if out:
            yield out
        if inflater.eof:
            pending = inflater.unused_data + pending
            if not pending:
                pending = stream.read(READ_SIZE)
                if not pending:
                    return
            if not pending.startswith(GZIP_MAGIC[: len(pending)]):
                raise UnreadableFile("bytes after the end of the gzip stream are not gzip")
            inflater = isal_zlib.decompressobj(31)
    raise UnreadableFile("truncated gzip stream (it ends before its last member does)")


class LineChunker:
    """Turns a file's decompressed pieces into record batches; counts its lines as it goes."""

    def __init__(self, source_file: str, max_line_bytes: int) -> None:
        self.source_file = source_file
        self.max_line_bytes = max_line_bytes
        self.counts = FileCounts()
        self.next_line = 1
        self._pending = b""
        # A line over the limit is not held whole: its first bytes, its length, and whether it is blank.
        self._long_prefix: bytes | None = None
        self._long_length = 0
        self._long_blank = True
        self._long_ends_with_cr = False

    def feed(self, piece: bytes) -> Iterator[pa.RecordBatch]:
        self.counts.bytes_read += len(piece)
        if self._long_prefix is not None:
            cut = piece.find(b"\n")
            if cut < 0:
                self._grow_long_line(piece)
                return
            self._grow_long_line(piece[:cut])
            yield from self._end_long_line()
            piece = piece[cut + 1 :]
        buffer = self._pending + piece if self._pending else piece
        cut = buffer.rfind(b"\n")
        if cut < 0:
            self._pending = buffer
        else:
            self._pending = buffer[cut + 1 :]
            yield from self._lines(buffer[:cut])
        # (a \r at the end may be the first half of a CRLF, and then not part of the line)
        if len(self._pending) - self._pending.endswith(b"\r") > self.max_line_bytes:
            self._long_prefix = self._pending[: self.max_line_bytes]
            self._long_length = 0
            self._long_blank = True
            self._long_ends_with_cr = False
            self._grow_long_line(self._pending)
            self._pending = b""

    def finish(self) -> Iterator[pa.RecordBatch]:
        """The last line, when the file does not end with a newline."""
        if self._long_prefix is not None:
            yield from self._end_long_line(newline=False)
        elif self._pending:
            yield from self._lines(self._pending, before_newline=False)
            self._pending = b""

    def _grow_long_line(self, part: bytes) -> None:
        self._long_length += len(part)
        self._long_blank = self._long_blank and _is_blank(part)
        if part:
            self._long_ends_with_cr = part.endswith(b"\r")

    def _end_long_line(self, newline: bool = True) -> Iterator[pa.RecordBatch]:
        prefix, length = self._long_prefix or b"", self._long_length
        if newline and self._long_ends_with_cr:
            length -= 1
        self._long_prefix = None
        if self._long_blank:
            self.counts.blank_lines += 1
        else:
            self.counts.lines += 1
            yield self._special(self.next_line, prefix, LINE_TOO_LONG, length)
        self.next_line += 1

    def _lines(self, block: bytes, before_newline: bool = True) -> Iterator[pa.RecordBatch]:
        """A block of whole lines joined by \\n, without the newline that ends the last one (the
        file's last line may have none)."""
        codes = np.frombuffer(block, dtype=np.uint8)
        newlines = np.flatnonzero(codes == 10)
        starts = np.concatenate(([0], newlines + 1))
        ends = np.concatenate((newlines, [len(block)]))
        first_codes = codes[np.minimum(starts, max(len(block) - 1, 0))] if len(block) else np.zeros(1, np.uint8)
        maybe_blank = (ends == starts) | np.isin(first_codes, _WHITESPACE_CODES)
        blank = sum(1 for i in np.flatnonzero(maybe_blank) if _is_blank(block[starts[i] : ends[i]]))
        self.counts.blank_lines += blank
        self.counts.lines += len(starts) - blank

        if b"\r" in block:
            block = block.replace(b"\r\n", b"\n")
            if before_newline and block.endswith(b"\r"):
                block = block[:-1]
        first = self.next_line
        self.next_line += len(starts)
        too_long = len(block) > self.max_line_bytes and bool(np.max(ends - starts) > self.max_line_bytes)
        if not too_long and _valid_utf8(block):
            yield self._chunk(first, block)
            return
        yield from self._line_by_line(first, block)

    def _line_by_line(self, first: int, block: bytes) -> Iterator[pa.RecordBatch]:
        """The slow path, for a block holding a line that cannot travel in a chunk."""
        run: list[bytes] = []
        run_first = first
        for number, line in enumerate(block.split(b"\n"), start=first):
            issue = None
            if len(line) > self.max_line_bytes and not _is_blank(line):
                issue = LINE_TOO_LONG
            elif not _valid_utf8(line):
                issue = INVALID_ENCODING
            if issue is None:
                if not run:
                    run_first = number
                run.append(line)
                continue
            if run:
                yield self._chunk(run_first, b"\n".join(run))
                run = []
            if issue == LINE_TOO_LONG:
                yield self._special(number, line[: self.max_line_bytes], issue, len(line))
            else:
                yield self._special(number, line, issue, len(line))
        if run:
            yield self._chunk(run_first, b"\n".join(run))

    def _chunk(self, first: int, block: bytes) -> pa.RecordBatch:
        return pa.record_batch(
            [
                pa.array([self.source_file]),
                pa.array([first], pa.int64()),
                _string_array(block),
                pa.nulls(1, pa.large_binary()),
                pa.nulls(1, pa.string()),
                pa.nulls(1, pa.int64()),
            ],
            schema=LINES_SCHEMA,
        )

    def _special(self, number: int, kept: bytes, issue: str, length: int) -> pa.RecordBatch:
        return pa.record_batch(
            [
                pa.array([self.source_file]),
                pa.array([number], pa.int64()),
                pa.array([kept.decode("utf-8", errors="replace")], pa.large_string()),
                pa.array([kept], pa.large_binary()),
                pa.array([issue]),
                pa.array([length], pa.int64()),
            ],
            schema=LINES_SCHEMA,
        )


def _string_array(block: bytes) -> pa.Array:
    """One large_string value over the bytes, without copying them."""
    offsets = pa.py_buffer(np.array([0, len(block)], dtype=np.int64).tobytes())
    return pa.LargeStringArray.from_buffers(1, offsets, pa.py_buffer(block))


def _valid_utf8(block: bytes) -> bool:
    with contextlib.suppress(pa.ArrowInvalid):
        _string_array(block).validate(full=True)
        return True
    return False


def read_lines(
    source_file: str, open_file: Callable[[], BinaryIO], max_line_bytes: int
) -> Iterator[pa.RecordBatch | FileCounts]:
    """Record batches of the file's lines, then its FileCounts. Raises UnreadableFile (an I/O
    error too) part way through: batches already given are then to be discarded."""
    chunker = LineChunker(source_file, max_line_bytes)
    try:
        with open_file() as stream:
            for piece in decompressed_pieces(stream):
                yield from chunker.feed(piece)
            yield from chunker.finish()
    except OSError as exc:
        raise UnreadableFile(f"I/O error: {exc.strerror or type(exc).__name__}") from None
    yield chunker.counts
