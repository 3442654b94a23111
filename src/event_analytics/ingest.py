"""Which landing files a run loads, and the objects through which dbt reads them.

Before dbt starts, `plan_load` lists the landing folder and compares it with the warehouse's ledger
of loaded files (`meta.landing_files`): new files are loaded, files that changed since they were
loaded are rejected (`changed_after_load`), files modified within `landing_settle_seconds` wait for
the next run. The plan is written to a JSON file that dbt's process reads through
warehouse_plugin, which registers on every DuckDB connection:

- `landing_lines`: the plan's files as numbered lines (reader.LINES_SCHEMA), read when a query
  scans it, one file per core;
- `landing_file_outcomes`: one row per planned file after that scan: its stamp and line count, or
  why it was rejected, and the files the plan rejected itself;
- `landing_reread_lines`, and `landing_prepare_reread(list of files)` to choose its files: loaded
  files read again (duplicate_events needs the discarded copies' text, which staging does not
  keep), while they are still as they were loaded.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from event_analytics.landing import (
    LandingFile,
    Listing,
    RejectedFile,
    current_stamp,
    landing_root,
    list_landing,
    opener,
)
from event_analytics.locking import DUCKDB_LOCK_MESSAGE
from event_analytics.project import ConfigError
from event_analytics.reader import LINES_SCHEMA, FileCounts, UnreadableFile, read_lines

# The reader's lines, each chunk with its file's modification time: staging's reference time for
# plausible event times when a message lacks a valid receivedAt (a file holds nothing received
# after it was written).
STREAM_SCHEMA = LINES_SCHEMA.append(pa.field("file_modified_at", pa.timestamp("us")))

PLAN_VARIABLE = "EVENT_ANALYTICS_LANDING_PLAN"
OUTCOMES_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("size_bytes", pa.int64()),
        ("modified_at", pa.timestamp("us")),
        ("etag", pa.string()),
        ("lines", pa.int64()),
        ("blank_lines", pa.int64()),
        ("reason", pa.string()),
        ("detail", pa.string()),
    ]
)
LEDGER = "meta.landing_files"


@dataclass
class LoadPlan:
    root: str
    max_line_bytes: int
    files: list[LandingFile] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    skipped_links: list[str] = field(default_factory=list)
    already_loaded: int = 0
    # Files in the ledger before this run (also those no longer in the landing folder).
    loaded_before: int = 0

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def read(cls, path: str | Path) -> LoadPlan:
        data = json.loads(Path(path).read_text())
        data["files"] = [LandingFile(**f) for f in data["files"]]
        data["rejected"] = [RejectedFile(**r) for r in data["rejected"]]
        return cls(**data)


def ledger(warehouse: Path) -> dict[str, tuple[int, int, str | None]] | None:
    """Loaded files by path: (size, modified_us, etag). None for a warehouse without one."""
    if not warehouse.exists():
        return None
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            has_ledger = con.execute(
                "select count(*) from duckdb_tables() where schema_name = 'meta' and table_name = 'landing_files'"
            ).fetchone()[0]
            if not has_ledger:
                staged = con.execute(
                    "select count(*) from duckdb_tables() where schema_name = 'staging' "
                    "and table_name = 'stg_segment__events' and estimated_size > 0"
                ).fetchone()[0]
                if staged:
                    raise ConfigError(
                        f"{warehouse} was built before the landing ledger existed: run once with --full-refresh"
                    )
                return None
            rows = con.execute(f"select path, size_bytes, epoch_us(modified_at), etag from {LEDGER}").fetchall()
    except duckdb.IOException as exc:
        if DUCKDB_LOCK_MESSAGE in str(exc):
            raise  # another process has the file open: busy, not misconfigured (locking.py)
        raise ConfigError(f"{warehouse} cannot be opened: {exc}") from exc
    return {path: (size, modified, etag) for path, size, modified, etag in rows}


def _changed(file: LandingFile, loaded: tuple[int, int, str | None]) -> str | None:
    size, modified, etag = loaded
    differences = []
    if file.size != size:
        differences.append(f"size {size} -> {file.size} bytes")
    if file.modified_us != modified:
        differences.append(f"modified {_stamp(modified)} -> {_stamp(file.modified_us)}")
    if etag is not None and file.etag is not None and file.etag != etag:
        differences.append(f"ETag {etag} -> {file.etag}")
    return "; ".join(differences) or None


def _stamp(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1_000_000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def plan_load(
    landing: str | Path,
    warehouse: Path,
    settings: dict[str, Any],
    *,
    full_refresh: bool = False,
    started_us: int | None = None,
    read_ledger: Callable[[Path], dict[str, tuple[int, int, str | None]] | None] = ledger,
) -> LoadPlan:
    """Compare the landing folder with the warehouse's ledger (see the module's docstring);
    `read_ledger` reads another engine's (spark_state.ledger)."""
    root = landing_root(landing)
    settle = settings.get("landing_settle_seconds", 0)
    max_line_bytes = settings.get("landing_max_line_bytes")
    if not isinstance(settle, int | float) or isinstance(settle, bool) or settle < 0:
        raise ConfigError(f"var landing_settle_seconds must be a number of seconds >= 0, not {settle!r}")
    if not isinstance(max_line_bytes, int) or isinstance(max_line_bytes, bool) or max_line_bytes < 1:
        raise ConfigError(f"var landing_max_line_bytes must be a positive integer, not {max_line_bytes!r}")
    listing: Listing = list_landing(root, settings.get("landing_patterns"), settings.get("landing_follow_symlinks"))
    loaded = None if full_refresh else read_ledger(warehouse)
    plan = LoadPlan(
        root=root,
        max_line_bytes=max_line_bytes,
        rejected=list(listing.rejected),
        unmatched=listing.unmatched,
        skipped_links=listing.skipped_links,
        loaded_before=len(loaded or {}),
    )
    now_us = started_us if started_us is not None else int(dt.datetime.now(dt.UTC).timestamp() * 1_000_000)
    for file in listing.files:
        if loaded is not None and file.path in loaded:
            change = _changed(file, loaded[file.path])
            if change:
                plan.rejected.append(RejectedFile(file.path, "changed_after_load", file.size, change))
            else:
                plan.already_loaded += 1
        elif file.modified_us > now_us - settle * 1_000_000:
            plan.deferred.append(file.path)
        else:
            plan.files.append(file)
    return plan


def _workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


class LandingLines:
    """The plan's files as an Arrow stream, read afresh each time DuckDB scans it."""

    def __init__(self, plan: LoadPlan | None) -> None:
        self.plan = plan
        self.outcomes: list[dict[str, Any]] = []

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        reader = pa.RecordBatchReader.from_batches(STREAM_SCHEMA, self._batches())
        return reader.__arrow_c_stream__(requested_schema)

    def _batches(self) -> Iterator[pa.RecordBatch]:
        files = self.plan.files if self.plan else []
        if not files:
            self.outcomes = []
            return
        results: queue.Queue[Any] = queue.Queue(maxsize=4 * _workers())
        todo: queue.SimpleQueue[LandingFile] = queue.SimpleQueue()
        for file in files:
            todo.put(file)
        stop = threading.Event()

        def work() -> None:
            while not stop.is_set():
                try:
                    file = todo.get_nowait()
                except queue.Empty:
                    return
                self._read_one(file, results, stop)

        threads = [threading.Thread(target=work, daemon=True) for _ in range(min(_workers(), len(files)))]
        for thread in threads:
            thread.start()
        outcomes = []
        try:
            while len(outcomes) < len(files):
                item = results.get()
                if isinstance(item, pa.RecordBatch):
                    yield item
                else:
                    outcomes.append(item)
        finally:
            stop.set()
        self.outcomes = outcomes

    def _read_one(self, file: LandingFile, results: queue.Queue[Any], stop: threading.Event) -> None:
        assert self.plan is not None
        modified_at = pa.scalar(file.modified_us, pa.timestamp("us"))
        outcome: dict[str, Any] = {
            "source_file": file.path,
            "size_bytes": file.size,
            "modified_at": dt.datetime.fromtimestamp(file.modified_us / 1_000_000, dt.UTC).replace(tzinfo=None),
            "etag": file.etag,
            "lines": None,
            "blank_lines": None,
            "reason": None,
            "detail": None,
        }
        try:
            for item in read_lines(file.path, opener(self.plan.root, file.path), self.plan.max_line_bytes):
                if stop.is_set():
                    return
                if isinstance(item, FileCounts):
                    outcome["lines"], outcome["blank_lines"] = item.lines, item.blank_lines
                else:
                    results.put(item.append_column("file_modified_at", pa.repeat(modified_at, item.num_rows)))
            now = current_stamp(self.plan.root, file.path)
            if now is not None and now != (file.size, file.modified_us):
                raise UnreadableFile("the file changed while it was read; it is read again next run")
        except UnreadableFile as exc:
            outcome.update(lines=None, blank_lines=None, reason="unreadable", detail=str(exc))
        except Exception as exc:  # fsspec and SDK errors: the file's failure, not the run's
            outcome.update(lines=None, blank_lines=None, reason="unreadable", detail=type(exc).__name__)
        results.put(outcome)


class FileOutcomes:
    """landing_file_outcomes: the last completed scan's outcomes and the plan's own rejections."""

    def __init__(self, lines: LandingLines) -> None:
        self.lines = lines

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        rows = list(self.lines.outcomes)
        for rejected in self.lines.plan.rejected if self.lines.plan else []:
            rows.append(
                {
                    "source_file": rejected.path,
                    "size_bytes": rejected.size,
                    "modified_at": None,
                    "etag": None,
                    "lines": None,
                    "blank_lines": None,
                    "reason": rejected.reason,
                    "detail": rejected.detail,
                }
            )
        table = pa.Table.from_pylist(rows, schema=OUTCOMES_SCHEMA)
        return table.__arrow_c_stream__(requested_schema)


REREAD_TYPE = "struct(source_file varchar, size_bytes bigint, modified_us bigint)[]"


def prepare_reread(plan: LoadPlan | None, target: LandingLines, files: list[dict[str, Any]] | None) -> int:
    """Point `target` (landing_reread_lines) at the given loaded files, those still as they were
    loaded (the ledger's size and modification time come with each); returns how many."""
    target.plan = None
    if plan is None or not files:
        return 0
    unchanged = []
    for item in files:
        now = current_stamp(plan.root, item["source_file"])
        if now == (item["size_bytes"], item["modified_us"]):
            unchanged.append(LandingFile(item["source_file"], item["size_bytes"], item["modified_us"]))
    target.plan = LoadPlan(root=plan.root, max_line_bytes=plan.max_line_bytes, files=unchanged)
    return len(unchanged)
