"""`make bench`: the pipeline against a hand-written DuckDB baseline on the same generated files.

Every run is `event-analytics run`, as a scheduler calls it. For each size: a full build from an
empty warehouse on all days but the last, the hand-written
baseline (bench/baseline.sql) on the same files, an incremental run after adding the last day's
file, and a no-op run. Wall and CPU seconds, peak RSS of the whole process tree and dbt's own model
timings are recorded; short runs are repeated and their median kept.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import queue
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from event_analytics.generate import GenerateOptions, generate
from event_analytics.pipeline import read_run_results
from event_analytics.project import project_dir
from event_analytics.summary import warehouse_counts

SHORT_RUN_SECONDS = 60.0


@dataclass
class Measurement:
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    model_seconds: dict[str, float] = field(default_factory=dict)
    # dbt (its wall time), gx (the suites, import included) and the rest (Python, start-up)
    stage_seconds: dict[str, float] = field(default_factory=dict)


DBT_WALL = re.compile(r"seconds: total \(wall\)\W+([\d.]+)")
GX_WALL = re.compile(r"validation passed: .* in ([\d.]+) s;")


def stages_of(output: str, wall: float) -> dict[str, float]:
    """What the CLI printed: dbt's wall time (summary table) and the suites' (validation line)."""
    dbt = float(match.group(1)) if (match := DBT_WALL.search(output)) else 0.0
    gx = float(match.group(1)) if (match := GX_WALL.search(output)) else 0.0
    return {"dbt": round(dbt, 2), "gx": round(gx, 2), "other": round(max(wall - dbt - gx, 0.0), 2)}


class TreeMemorySampler:
    """Peak resident memory of a process and all its descendants, sampled from /proc."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, proc: subprocess.Popen[Any]) -> None:
        self._thread = threading.Thread(target=self._run, args=(proc.pid,), daemon=True)
        self._thread.start()

    def stop(self) -> float:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.peak_kb / 1024

    def _run(self, root: int) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(root))
            time.sleep(self.interval)


def tree_rss_kb(root: int) -> int:
    processes: dict[int, ProcessMemory] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue
        processes[int(entry)] = ProcessMemory(
            parent=int(fields.get("PPid", "0").strip()),
            name=fields.get("Name", "").strip(),
            size_kb=_kb(fields.get("VmSize")),
            rss_kb=_kb(fields.get("VmRSS")),
        )
    return tree_total_kb(processes, root)


@dataclass(frozen=True)
class ProcessMemory:
    parent: int
    name: str
    size_kb: int
    rss_kb: int


def tree_total_kb(processes: dict[int, ProcessMemory], root: int) -> int:
    """The resident memory of `root` and its descendants. A child caught between its fork and its
    exec (the same program as its parent, its virtual and resident sizes within 1% of the parent's,
    read a moment apart) shares its parent's pages and is counted once: Spark's JVM starts helper
    programs so, and the sum would otherwise count the whole JVM twice for that instant (measured:
    6.0 GB for a tree of 3.4 GB)."""
    children: dict[int, list[int]] = {}
    for pid, process in processes.items():
        children.setdefault(process.parent, []).append(pid)
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        process = processes.get(pid)
        if process is None:
            continue
        parent = processes.get(process.parent)
        twin = (
            pid != root
            and parent is not None
            and parent.name == process.name
            and _close(parent.size_kb, process.size_kb)
            and _close(parent.rss_kb, process.rss_kb)
        )
        total += 0 if twin else process.rss_kb
        stack.extend(children.get(pid, []))
    return total


def _close(parent: int, child: int) -> bool:
    return abs(parent - child) <= parent / 100


def _kb(field: str | None) -> int:
    return int(field.split()[0]) if field else 0


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured_run(landing: Path, warehouse: Path, target: str | None = None) -> Measurement:
    """`event-analytics run` as a scheduler calls it, with dbt's model timings when dbt ran."""
    sampler = TreeMemorySampler()
    cpu = children_cpu()
    started_epoch = time.time()
    started = time.perf_counter()
    command = [
        str(Path(sys.executable).with_name("event-analytics")),
        "run",
        "--dev-key",
        "--landing",
        str(landing),
        "--warehouse",
        str(warehouse),
        *(["--target", target, "--skip-validation"] if target else []),
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        sampler.watch(proc)
        output, _ = proc.communicate()
    wall = time.perf_counter() - started
    peak = sampler.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark run failed: {output[-2000:]}")
    nodes = read_run_results(warehouse.parent / f".dbt-target-{warehouse.stem}" / "run_results.json", started_epoch)
    models = {n.name: round(n.seconds, 3) for n in nodes if n.resource_type == "model"}
    return Measurement(wall, children_cpu() - cpu, peak, models, stages_of(output, wall))


def baseline_memory_limit(events: int) -> str:
    """The reference figures were measured with 4GB at 10M events (the pipeline's own limit is in
    its profile); at 50M the hand-written script's dedupe and windows ran out of 4GB."""
    return "4GB" if events <= GENERATE_CHUNK else "16GB"


# How the baseline reads its landing files (the results' baseline "read"). Both number each file's
# lines with a `read_csv(...) with ordinality` scan of that file alone: DuckDB's CSV reader has no
# row number per file, and a multi-file scan `with ordinality` numbers its rows in one thread (with
# each file's first number subtracted by a window: 5-40% slower than the union, 1M events).
BASELINE_READS = {
    # One statement, the files' scans unioned. With preserve_insertion_order off (run_baseline sets
    # it, as the pipeline's profile does) DuckDB runs the union's scans side by side, one file per
    # thread; with it on, one after another (the read took 1.7-1.9x as long, 1M events).
    "union": "one statement, the files' scans unioned: {workers} files decompress at once, one per thread",
    # The statement once per file, from one connection per core at once, largest files first: it
    # sets up {workers} scans at a time instead of all of them (170 files: 0.8 GB instead of 4 GB),
    # but each file is a statement and a commit: 10-50% slower than the union at 34 files, 10-20%
    # at 170, even at 14 (1M events).
    "parallel-files": "one statement per file, from {workers} connections at once (one per core), largest first",
}
BASELINE_READ = "union"
LANDING_BUFFER_BYTES = 8 * 1024 * 1024


def measured_baseline(files: list[Path], database: Path, memory_limit: str, read: str = BASELINE_READ) -> Measurement:
    """The hand-written script, with each statement's wall seconds as its stages (named by the
    table it creates or fills), to set against the pipeline's models."""
    database.unlink(missing_ok=True)
    stages_file = baseline_stages_file(database)
    stages_file.unlink(missing_ok=True)
    sampler = TreeMemorySampler()
    cpu = children_cpu()
    started = time.perf_counter()
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from event_analytics.bench import run_baseline; "
            "run_baseline(sys.argv[1], sys.argv[2], sys.argv[4:], sys.argv[3])",
            str(database),
            memory_limit,
            read,
            *map(str, files),
        ],
    ) as proc:
        sampler.watch(proc)
        proc.wait()
    wall = time.perf_counter() - started
    peak = sampler.stop()
    if proc.returncode != 0:
        raise RuntimeError("baseline failed")
    stages = json.loads(stages_file.read_text())
    stages_file.unlink()
    return Measurement(wall, children_cpu() - cpu, peak, stage_seconds=stages)


def baseline_read_workers(files: list[Path] | list[str]) -> int:
    """Files decompressing at once: one per core (DuckDB's threads, or the "parallel-files" read's
    connections), as the pipeline's reader has it."""
    return max(1, min(os.cpu_count() or 1, len(files)))


def baseline_stages_file(database: Path) -> Path:
    """Where the baseline's child process leaves its seconds per statement."""
    return database.with_suffix(".stages.json")


def baseline_statements(script: str) -> list[tuple[str, str]]:
    """(stage, SQL) for each statement of the script: a statement is named by the table it creates
    or inserts into; `set` statements are "settings"."""
    statements = []
    for sql in script.split(";\n"):
        code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--")).strip()
        if code:
            table = re.search(r"(?:create or replace table|insert into) (\w+)", code)
            statements.append((table.group(1) if table else "settings", code))
    return statements


def landing_file_scan(path: str) -> str:
    """One landing file's lines as text, numbered from 1: (source_file, line_number, raw_line)."""
    literal = "'" + path.replace("'", "''") + "'"
    # DuckDB sets up every scan of a union at once: 170 files took 4 GB with a 2 or an 8 MiB buffer
    # (1M events, read alone), and the default 32 MiB buffer ran out of 4GB at 150 files (50M
    # events). 8 MiB took 5-15% less CPU than 2 MiB (1M events in 34 files).
    return (
        f"select {literal} as source_file, ordinality as line_number, json as raw_line from read_csv({literal}, "
        "columns = {'json': 'VARCHAR'}, delim = chr(1), quote = '', escape = '', header = false, "
        f"auto_detect = false, strict_mode = false, buffer_size = {LANDING_BUFFER_BYTES}) with ordinality"
    )


def run_per_file(con: Any, sql: str, files: list[str], settings: list[str], workers: int) -> None:
    """`sql` once per file, `{landing}` replaced by the file's scan, from `workers` connections at
    once (each statement its own transaction, appending to the same table); the largest files go
    first, so the last ones to finish are small."""
    pending: queue.SimpleQueue[str] = queue.SimpleQueue()
    for path in sorted(files, key=lambda f: Path(f).stat().st_size, reverse=True):
        pending.put(path)
    failed = threading.Event()

    def work() -> None:
        cursor = con.cursor()  # a new connection: session settings (TimeZone) are not inherited
        try:
            for setting in settings:
                cursor.execute(setting)
            while not failed.is_set():
                try:
                    path = pending.get_nowait()
                except queue.Empty:
                    return
                cursor.execute(sql.replace("{landing}", landing_file_scan(path)))
        except BaseException:
            failed.set()
            raise
        finally:
            cursor.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done in [pool.submit(work) for _ in range(workers)]:
            done.result()


def run_baseline(database: str, memory_limit: str, files: list[str], read: str = BASELINE_READ) -> None:
    """Child process: the hand-written script, one statement at a time but the landing files' read
    (see BASELINE_READS); each statement's seconds go to <database>.stages.json."""
    import duckdb

    if read not in BASELINE_READS:
        raise ValueError(f"unknown baseline read {read!r}: one of {', '.join(BASELINE_READS)}")
    script = (project_dir() / "bench" / "baseline.sql").read_text()
    spill = Path(database).parent / ".baseline-spill"
    con = duckdb.connect(database, config={"memory_limit": memory_limit, "temp_directory": str(spill)})
    # as the pipeline's profile has it; the "union" read decompresses one file at a time without it
    con.execute("set preserve_insertion_order = false")
    con.execute("set enable_progress_bar = false")
    settings: list[str] = []
    stages: dict[str, float] = {}
    for stage, sql in baseline_statements(script):
        started = time.perf_counter()
        if "{landing}" not in sql:
            con.execute(sql)
        elif read == "union":
            con.execute(sql.replace("{landing}", " union all ".join(map(landing_file_scan, files))))
        else:
            run_per_file(con, sql, files, settings, baseline_read_workers(files))
        if stage == "settings":
            settings.append(sql)
        stages[stage] = round(stages.get(stage, 0.0) + time.perf_counter() - started, 3)
    con.close()
    baseline_stages_file(Path(database)).write_text(json.dumps(stages))


# The generator holds a batch in memory (~10 GB at 10M events); bigger sizes are several batches.
GENERATE_CHUNK = 10_000_000


def median_of(runs: list[Measurement]) -> Measurement:
    chosen = sorted(runs, key=lambda m: m.wall_seconds)[len(runs) // 2]
    return Measurement(
        statistics.median(m.wall_seconds for m in runs),
        statistics.median(m.cpu_seconds for m in runs),
        max(m.peak_rss_mb for m in runs),
        chosen.model_seconds,
        chosen.stage_seconds,
    )


def cached_events(cache: Path, events: int, days: int) -> tuple[Path, list[Path]]:
    """The cached folder and its files. Above GENERATE_CHUNK events, several independent batches
    (own seed, same days and users) go to part-N sub-folders: the generator holds a batch in memory."""
    folder = cache / f"events-{events}-days-{days}"
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        parts = -(-events // GENERATE_CHUNK)
        for part in range(parts):
            size = min(GENERATE_CHUNK, events - part * GENERATE_CHUNK)
            out = folder if parts == 1 else folder / f"part-{part}"
            generate(GenerateOptions(out=out, events=size, days=days, faults=0.005, seed=42 + part))
        (folder / ".complete").touch()
    return folder, sorted(folder.rglob("*.jsonl.gz"))


def split_last_day(files: list[Path], days: int) -> tuple[list[Path], list[Path]]:
    """(files of the full build, files of the incremental run). Files are named by the day their
    lines were received; the incremental run gets the last simulated day's file, about 1/days of
    the events, with the few late deliveries received on the days after it. (The latest file alone
    holds only the last stragglers: a few dozen lines.)"""
    received = {path: dt.date.fromisoformat(path.name.split(".")[0]) for path in files}
    last_day = min(received.values()) + dt.timedelta(days=days - 1)
    full = [path for path in files if received[path] < last_day]
    return full, [path for path in files if received[path] >= last_day]


def landing_for_bench(
    cache: Path, events: int, days: int, name: str
) -> tuple[Path, Path, list[Path], list[Path], Callable[[Path], None]]:
    """A work folder `name` whose landing folder holds all but the last day's files; returns (work
    folder, the generated folder, the files landed, the last day's files, a function that lands a
    file)."""
    folder, files = cached_events(cache, events, days)
    full_files, new_day = split_last_day(files, days)
    work = cache / name
    shutil.rmtree(work, ignore_errors=True)
    landing = work / "landing"
    landing.mkdir(parents=True)

    def land(path: Path) -> None:
        target = landing / path.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        # A hard link, not a symlink: landing does not follow symlinks unless told to.
        try:
            target.hardlink_to(path)
        except OSError:  # another file system
            shutil.copy2(path, target)

    for path in full_files:
        land(path)
    return work, folder, full_files, new_day, land


def bench_size(cache: Path, events: int, days: int, repeat: int) -> dict[str, Any]:
    work, folder, full_files, new_day, land = landing_for_bench(cache, events, days, f"run-{events}")
    landing = work / "landing"
    warehouse = work / "events.duckdb"

    baseline = measured_baseline(full_files, work / "baseline.duckdb", baseline_memory_limit(events))
    (work / "baseline.duckdb").unlink(missing_ok=True)
    full = measured_run(landing, warehouse)
    counts = warehouse_counts(warehouse)

    # Incremental: one new day, repeated from a copy of the full build when it is short.
    before = work / "before-incremental.duckdb"
    shutil.copy(warehouse, before)
    for path in new_day:
        land(path)
    incremental_runs = []
    while True:
        measured = measured_run(landing, warehouse)
        incremental_runs.append(measured)
        if len(incremental_runs) >= repeat or measured.wall_seconds > SHORT_RUN_SECONDS:
            break
        shutil.copy(before, warehouse)
    before.unlink()
    noop_runs = [measured_run(landing, warehouse) for _ in range(repeat)]
    incremental, noop = median_of(incremental_runs), median_of(noop_runs)

    def with_ratio(m: Measurement) -> dict[str, Any]:
        return {**asdict(m), "ratio_to_baseline": round(m.wall_seconds / baseline.wall_seconds, 3)}

    return {
        "events": events,
        "days": days,
        "messages_read_full_build": counts.messages_read,
        "events_per_second_full_build": round(counts.messages_read / full.wall_seconds),
        "baseline": {
            **asdict(baseline),
            "memory_limit": baseline_memory_limit(events),
            "read": BASELINE_READ,
            "read_description": BASELINE_READS[BASELINE_READ].format(workers=baseline_read_workers(full_files)),
            "read_buffer_bytes": LANDING_BUFFER_BYTES,
        },
        "full_build": with_ratio(full),
        "incremental_one_day": {
            **with_ratio(incremental),
            "files": sorted(str(path.relative_to(folder)) for path in new_day),
            "share_of_full_build": round(incremental.wall_seconds / full.wall_seconds, 3),
        },
        "noop": with_ratio(noop),
        "gx_share_of_full_build": round(full.stage_seconds.get("gx", 0.0) / full.wall_seconds, 3),
        "runs": {"incremental": len(incremental_runs), "noop": len(noop_runs)},
    }


def bench_spark_size(cache: Path, events: int, days: int, target: str) -> dict[str, Any]:
    """On a Spark target (README, Moving to a cluster): a full build, then an incremental run after
    adding the last day's file, as bench_size does on DuckDB (whose baseline and repeats it leaves
    out: bench DuckDB with the same sizes to set the figures beside)."""
    work, folder, _, new_day, land = landing_for_bench(cache, events, days, f"run-{events}-{target}")
    warehouse = work / "events.duckdb"
    full = measured_run(work / "landing", warehouse, target)
    for path in new_day:
        land(path)
    incremental = measured_run(work / "landing", warehouse, target)
    return {
        "events": events,
        "days": days,
        "target": target,
        "full_build": asdict(full),
        "incremental_one_day": {
            **asdict(incremental),
            "files": sorted(str(path.relative_to(folder)) for path in new_day),
            "share_of_full_build": round(incremental.wall_seconds / full.wall_seconds, 3),
        },
    }


def run_benchmark(
    sizes: list[int], days: int, repeat: int, cache: Path, results: Path, target: str | None = None
) -> Path:
    report = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "pipeline_memory_limit": os.environ.get("EVENT_ANALYTICS_MEMORY_LIMIT", "profile default"),
        },
        "git_commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=project_dir(), capture_output=True, text=True
        ).stdout.strip(),
        "target": target or "duckdb",
        "sizes": [
            bench_spark_size(cache, events, days, target) if target else bench_size(cache, events, days, repeat)
            for events in sizes
        ],
    }
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{report['started_at'].replace(':', '').replace('+0000', 'Z')}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path
