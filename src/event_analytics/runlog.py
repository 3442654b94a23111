"""What each run did, for a scheduler and the person it pages.

`<warehouse dir>/runs.jsonl` gets one JSON line per run whatever its outcome: the run id, start,
end, exit code and reason, files and lines loaded, rows per stage, seconds per stage, dbt's and
GX's outcome, problems per severity, and whether it published. A line is written with one
`write` on a file opened for appending, so concurrent runs on warehouses of one folder do not
interleave their lines. `--log-format json` also writes each progress event as a JSON line on
stdout (`Progress`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

RUNS_FILE = "runs.jsonl"


def runs_path(warehouse: Path) -> Path:
    return warehouse.parent / RUNS_FILE


def new_run_id(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%S%fZ")


@dataclass
class RunRecord:
    run_id: str
    warehouse: str
    started_at: str
    command: str = "run"
    finished_at: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    files_loaded: int = 0
    lines_loaded: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # per stage / relation kind
    seconds: dict[str, float] = field(default_factory=dict)  # per stage
    dbt: str | None = None  # success, tests_failed, error, skipped (nothing to do / audit only)
    gx: str | None = None  # passed, failed, skipped, error
    problems: dict[str, int] = field(default_factory=lambda: {"error": 0, "warn": 0})
    published: bool = False
    warnings: list[str] = field(default_factory=list)

    def finish(self, exit_code: int, reason: str | None = None) -> None:
        self.exit_code = exit_code
        self.reason = reason
        self.finished_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")

    def append_to(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(asdict(self), sort_keys=True, default=str) + "\n").encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def read_runs(warehouse: Path) -> list[dict[str, Any]]:
    try:
        text = runs_path(warehouse).read_text()
    except OSError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class Progress:
    """Stage and node progress: rich bars on a terminal, one plain line per stage otherwise (on
    stderr), or one JSON object per event on stdout (`--log-format json`)."""

    def __init__(self, log_format: str = "text", stream: TextIO | None = None) -> None:
        self.json = log_format == "json"
        # JSON events on stdout, for the scheduler to parse; the person's lines stay on stderr
        self.stream = stream or (sys.stdout if self.json else sys.stderr)
        self.live = not self.json and self.stream.isatty()
        self.started: dict[str, float] = {}
        self.nodes_done = 0
        self._rich: Any = None
        self._task: Any = None

    def emit(self, record: dict[str, Any]) -> None:
        if self.json:
            record = {"ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), **record}
            self.stream.write(json.dumps(record, default=str) + "\n")
            self.stream.flush()

    def stage_start(self, stage: str, detail: str = "") -> None:
        self.started[stage] = time.perf_counter()
        self.emit({"event": "stage_start", "stage": stage, **({"detail": detail} if detail else {})})
        if self.live:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._rich = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed} nodes"),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self._rich.start()
            self._task = self._rich.add_task(stage, total=None)
        elif not self.json:
            self.stream.write(f"{stage}: started{f' ({detail})' if detail else ''}\n")
            self.stream.flush()

    def stage_end(self, stage: str, outcome: str = "ok", **extra: Any) -> float:
        seconds = time.perf_counter() - self.started.pop(stage, time.perf_counter())
        self.emit({"event": "stage_end", "stage": stage, "outcome": outcome, "seconds": round(seconds, 3), **extra})
        if self._rich is not None:
            self._rich.stop()
            self._rich = None
        if not self.json:
            self.stream.write(f"{stage}: {outcome} in {seconds:.1f} s\n")
            self.stream.flush()
        return seconds

    def node(self, event: dict[str, Any]) -> None:
        """A dbt node event (dbt_worker)."""
        self.emit(event)
        if event.get("event") == "node_end":
            self.nodes_done += 1
            if self._rich is not None:
                self._rich.update(self._task, advance=1, description=f"dbt: {event.get('name')}")

    def warning(self, text: str) -> None:
        self.emit({"event": "warning", "message": text})
        if not self.json:
            self.stream.write(f"warning: {text}\n")
            self.stream.flush()
