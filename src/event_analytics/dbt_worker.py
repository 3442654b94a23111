"""The dbt process of a run: dbt's own runner, with each node's start and end reported as it happens.

`python -m event_analytics.dbt_worker [--freshness] <dbt command and args>` runs the command with
dbtRunner and writes one line per node event to stdout, `EVENT_PREFIX` then JSON, between dbt's
own log lines; pipeline.run_dbt reads them for progress and the JSON log. With --freshness, a
build that succeeded is followed by `dbt source freshness` on the same parsed project (no second
parse: about a tenth of a second of queries), whose results land in the target folder's
sources.json. dbt runs in its own process so that its DuckDB connection, and the memory of its
statements, end with it.

A new warehouse reuses an earlier parse (a full parse takes 4 to 10 s) where dbt itself accepts it:
- dbt parses with the warehouse's location in the environment replaced by a placeholder
  (`parse_environment`): dbt rejects a saved parse whose profile differs (`profile_hash`: the
  connection's path and temp_directory), and that location is all that differs between two
  warehouses' profiles. Parsing does not read it: only target.database, the file's stem, which
  the placeholder keeps; a parse whose result holds the placeholder (a model that took to
  reading target.path or those variables) is thrown away and done again with the real values.
  The build that follows opens the warehouse with its real profile (its own adapter).
- the target folder gets `partial_parse.msgpack` from a cache shared by all warehouses
  (`ParseCache`, in the project's target/partial-parse-cache), one file per set of vars, target
  and profile settings, written whole (a temp file, then os.replace) so concurrent runs never
  read half a file. dbt's own check still decides: a saved parse of other vars, profile, dbt
  version or dbt_project.yml is parsed again in full, and changed, added or deleted project files
  are parsed again (dbt's partial parsing).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

EVENT_PREFIX = "@@event-analytics@@ "
# The options `dbt source freshness` shares with the run's command.
SHARED_OPTIONS = ("--project-dir", "--profiles-dir", "--vars", "--target-path", "--target")

# What profiles/profiles.yml reads that says where one warehouse's files are, and only that.
LOCATION_VARIABLES = ("EVENT_ANALYTICS_WAREHOUSE", "EVENT_ANALYTICS_SPILL_DIR", "EVENT_ANALYTICS_SERVING_DIR")
# What else the DuckDB target's connection (which dbt hashes) takes from the environment: the cache
# keys on it, so that different settings keep different saved parses. (A spark target's hashed
# connection keys, host to organization, read no variable.)
PROFILE_VARIABLES = ("EVENT_ANALYTICS_MEMORY_LIMIT",)
PLACEHOLDER = "/event-analytics-parse-placeholder"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
CACHE_FOLDER = Path("target") / "partial-parse-cache"
# Sets of vars kept (1.7 MB each): the test suite's, with room; the least recently used go first.
CACHE_ENTRIES = 48


def emit(event: Any) -> None:
    """dbt calls this on its worker threads: an exception here would fail the node."""
    try:
        report(event)
    except Exception as exc:  # progress is a nicety; the run's result is dbt's
        sys.stdout.write(f"event-analytics: progress event not reported: {type(exc).__name__}: {exc}\n")


def report(event: Any) -> None:
    name = event.info.name
    if name not in {"NodeStart", "NodeFinished"}:
        return
    node = event.data.node_info
    record: dict[str, Any] = {
        "event": "node_start" if name == "NodeStart" else "node_end",
        "node": node.unique_id,
        "resource_type": node.resource_type,
        "name": node.node_name,
    }
    if name == "NodeFinished":
        result = event.data.run_result
        record["status"] = result.status
        record["seconds"] = round(result.execution_time, 3)
        # a protobuf Struct: numbers come back as floats
        response = result.adapter_response
        rows = response["rows_affected"] if response is not None and "rows_affected" in response else None
        if isinstance(rows, int | float) and rows >= 0:
            record["rows"] = int(rows)
    sys.stdout.write(EVENT_PREFIX + json.dumps(record) + "\n")
    sys.stdout.flush()


def shared_options(args: list[str]) -> list[str]:
    shared = []
    for index, arg in enumerate(args):
        if arg in SHARED_OPTIONS and index + 1 < len(args):
            shared += [arg, args[index + 1]]
    return shared


def option_value(args: list[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
    return None


def parse_environment(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """The location variables as parsing sees them: an absolute path's folder is a placeholder;
    the warehouse's file name stays (dbt-duckdb's database name, in every parsed node)."""
    replaced = {}
    for name in LOCATION_VARIABLES:
        value = environ.get(name)
        if value and os.path.isabs(value):
            keep = Path(value).name if name == "EVENT_ANALYTICS_WAREHOUSE" else name.lower()
            replaced[name] = f"{PLACEHOLDER}/{keep}"
    return replaced


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class ParseCache:
    """Saved parses shared by warehouses, one per set of what dbt's state check compares (that it
    can tell apart here): dbt still checks whichever one a target folder gets."""

    def __init__(self, folder: Path, key: str) -> None:
        self.entry = folder / f"{key}.msgpack"

    @classmethod
    def for_options(cls, options: list[str], parse_env: dict[str, str]) -> ParseCache:
        from dbt.version import __version__

        text = option_value(options, "--vars") or "{}"
        try:
            dbt_vars: Any = json.loads(text)
        except ValueError:
            dbt_vars = text
        project = Path(option_value(options, "--project-dir") or ".").resolve()
        key = {
            "dbt": __version__,
            "project": str(project),
            "profiles": str(Path(option_value(options, "--profiles-dir") or project).resolve()),
            "target": option_value(options, "--target"),
            "vars": dbt_vars,
            "profile": {name: parse_env.get(name, os.environ.get(name)) for name in LOCATION_VARIABLES},
            "settings": {name: os.environ.get(name) for name in PROFILE_VARIABLES},
        }
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
        return cls(project / CACHE_FOLDER, digest[:32])

    def seed(self, target: Path) -> os.stat_result | None:
        """Copies the saved parse into the target folder: its stat, or None without one."""
        try:
            data = self.entry.read_bytes()
            os.utime(self.entry)  # recently used
        except OSError:
            return None
        try:
            return write_whole(target / PARTIAL_PARSE_FILE, data)
        except OSError:
            return None

    def store(self, data: bytes) -> None:
        try:
            write_whole(self.entry, data)
            entries = sorted(self.entry.parent.glob("*.msgpack"), key=modified_time, reverse=True)
            for stale in entries[CACHE_ENTRIES:]:
                stale.unlink(missing_ok=True)
        except OSError:
            pass  # a parse not shared costs time, never a run


def modified_time(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def write_whole(path: Path, data: bytes) -> os.stat_result:
    """Writes a temp file beside path and renames it over path: readers see the old file or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temp, 0o644)  # as dbt's own file; mkstemp's is the owner's only
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path.stat()


def same_file(before: os.stat_result | None, path: Path) -> bool:
    try:
        after = path.stat()
    except OSError:
        return False
    return before is not None and (after.st_mtime_ns, after.st_size, after.st_ino) == (
        before.st_mtime_ns,
        before.st_size,
        before.st_ino,
    )


def parse(options: list[str]) -> Any:
    """dbt parse on the options the run shares; a warehouse's parse reused where dbt accepts it."""
    from dbt.cli.main import dbtRunner

    target = option_value(options, "--target-path")
    placeholders = parse_environment(os.environ)
    if target is None or not placeholders:
        return dbtRunner().invoke(["parse", *options])
    cache = ParseCache.for_options(options, placeholders)
    saved = Path(target) / PARTIAL_PARSE_FILE
    seeded = cache.seed(Path(target))
    with environment(placeholders):
        parsed = dbtRunner().invoke(["parse", *options])
    if parsed.success and same_file(seeded, saved):
        return parsed  # dbt found nothing changed in the cache's parse, checked when stored
    try:
        data = saved.read_bytes() if parsed.success else b""
    except OSError:
        data = b""
    if data and PLACEHOLDER.encode() not in data:
        cache.store(data)
        return parsed
    # The parse failed, or its result holds the placeholder (parsing read the location): parse
    # again with the real values, and share nothing.
    saved.unlink(missing_ok=True)
    if parsed.success:
        sys.stdout.write("event-analytics: parsing reads the warehouse's location: parsed again, not shared\n")
    return dbtRunner().invoke(["parse", *options])


def main(argv: list[str]) -> int:
    from dbt.cli.main import dbtRunner

    freshness = bool(argv) and argv[0] == "--freshness"
    args = argv[1:] if freshness else argv
    parsed = parse(shared_options(args))
    if not parsed.success:
        return 2
    from event_analytics import spark_session

    spark_session.start_for_dbt()
    runner = dbtRunner(manifest=parsed.result, callbacks=[emit])
    result = runner.invoke(args)
    if freshness and result.success:
        runner.invoke(["source", "freshness", *shared_options(args)])
    if result.success:
        return 0
    return 1 if result.exception is None else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
