"""One writer per working warehouse: `run`, `publish` and `validate` hold an OS-level lock beside it.

A second run started while one is going on exits at once with EXIT_BUSY and one line naming the
holder, or waits for it (`--wait SECONDS`). A DuckDB lock held by another process (someone's session
on the working file) gets the same kind of line, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

DUCKDB_LOCK_MESSAGE = "Could not set lock on file"


class Busy(Exception):
    """Another process holds the warehouse: exit code 4."""


def lock_paths(warehouse: Path) -> tuple[Path, Path]:
    return warehouse.with_name(warehouse.name + ".lock"), warehouse.with_name(warehouse.name + ".lock.json")


@contextmanager
def warehouse_lock(warehouse: Path, wait_seconds: float = 0) -> Iterator[None]:
    """Hold the warehouse's lock for the block; Busy if another process holds it after `wait_seconds`."""
    # the file itself, whichever path (a symlink, `..`) names it
    real = warehouse.resolve()
    real.parent.mkdir(parents=True, exist_ok=True)
    lock_path, holder_path = lock_paths(real)
    lock = FileLock(str(lock_path), timeout=wait_seconds)
    try:
        lock.acquire()
    except Timeout:
        raise Busy(f"another run ({holder(holder_path)}) holds {warehouse}") from None
    try:
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        holder_path.write_text(json.dumps({"pid": os.getpid(), "started_at": started}))
        yield
    finally:
        holder_path.unlink(missing_ok=True)
        lock.release()


def holder(holder_path: Path) -> str:
    try:
        info = json.loads(holder_path.read_text())
        return f"pid {int(info['pid'])}, started at {info['started_at']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"


def duckdb_lock_conflict(text: str, warehouse: Path) -> str | None:
    """The one line to print when `text` (an error or dbt's output) is DuckDB refusing its file lock."""
    if DUCKDB_LOCK_MESSAGE not in text:
        return None
    pid = re.search(r"\(PID (\d+)\)", text)
    who = f"pid {pid.group(1)}" if pid else "another process"
    return f"{who} has {warehouse} open (DuckDB's file lock): close that session, or read the serving copy instead"
