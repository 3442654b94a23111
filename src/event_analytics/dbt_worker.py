"""The dbt process of a run: dbt's own runner, with each node's start and end reported as it happens.

`python -m event_analytics.dbt_worker [--freshness] <dbt command and args>` runs the command with
dbtRunner and writes one line per node event to stdout, `EVENT_PREFIX` then JSON, between dbt's
own log lines; pipeline.run_dbt reads them for progress and the JSON log. With --freshness, a
build that succeeded is followed by `dbt source freshness` on the same parsed project (no second
parse: about a tenth of a second of queries), whose results land in the target folder's
sources.json. dbt runs in its own process so that its DuckDB connection, and the memory of its
statements, end with it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

EVENT_PREFIX = "@@event-analytics@@ "
# The options `dbt source freshness` shares with the run's command.
SHARED_OPTIONS = ("--project-dir", "--profiles-dir", "--vars", "--target-path", "--target")


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


def main(argv: list[str]) -> int:
    from dbt.cli.main import dbtRunner

    freshness = bool(argv) and argv[0] == "--freshness"
    args = argv[1:] if freshness else argv
    parsed = dbtRunner().invoke(["parse", *shared_options(args)])
    if not parsed.success:
        return 2
    runner = dbtRunner(manifest=parsed.result, callbacks=[emit])
    result = runner.invoke(args)
    if freshness and result.success:
        runner.invoke(["source", "freshness", *shared_options(args)])
    if result.success:
        return 0
    return 1 if result.exception is None else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
