"""make test-spark (issue 21): the sample data with faults built on DuckDB and on Spark (dbt-spark in
session mode) gives the same rows in every relation of marts, quarantine and staging and in
meta.landing_files, after a full build and again after an incremental run that brings new days, late
events, duplicates and a retroactive login (parity.py says how values compare).

Needs Java 17 and the extra `spark`: make test-spark installs both; the default suite leaves this
folder out (pyproject.toml). Its runs go one at a time (the machine's two cores are shared): never
run it under pytest -n.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from pathlib import Path

import pytest

from event_analytics import parity
from event_analytics.generate import GenerateOptions, generate

RECEIVED_LATE = "2026-11-03T09:00:00.000Z"


# The fixtures landing, workdir and full_build (the sample built on both engines) are conftest.py's,
# shared with test_spark_validation.py.


def check(result: parity.ParityResult, step: str) -> None:
    if not result.ok:
        pytest.fail(f"{step}: Spark and DuckDB differ\n{result.describe()}", pytrace=False)
    failed = [run.summary() for run in result.runs if run.exit_code != 0]
    if failed:
        pytest.fail(f"{step}: the relations are equal but a run failed\n" + "\n".join(failed), pytrace=False)


def test_full_build_on_spark_equals_duckdb(full_build: parity.ParityResult) -> None:
    check(full_build, "full build")


def test_incremental_run_on_spark_equals_duckdb(
    landing: Path, workdir: parity.Workdir, full_build: parity.ParityResult
) -> None:
    add_second_batch(landing)
    check(parity.build_and_compare(landing, workdir), "incremental run (new days, late events, duplicates, a login)")


def add_second_batch(landing: Path) -> None:
    """New files in a sub-folder of the landing folder: three new days of traffic; copies of earlier
    events received late under new messageIds; duplicates of earlier messages (some received
    earlier than the copy already loaded, so they become the kept copy); and a login that ties an
    anonymous device of the first batch to a user."""
    batch = landing / "batch-2"
    scratch = landing.parent / "later"
    # other users (another seed), after the first batch's month
    generate(GenerateOptions(out=scratch, events=600, days=3, start=dt.date(2026, 11, 2), seed=7, faults=0.02))
    shutil.copytree(scratch, batch / "generated")
    first_batch = messages(sorted(landing.glob("*.jsonl.gz")))
    earlier = [m for m in first_batch if str(m.get("timestamp", "")).startswith("2026-10-0")]
    late = [
        {**message, "messageId": f"{message['messageId']}-late", "receivedAt": RECEIVED_LATE}
        for message in earlier[100:130]
    ]
    duplicates = earlier[200:220] + [
        {**message, "receivedAt": message["timestamp"]} for message in earlier[220:230] if "timestamp" in message
    ]
    # a device that never logged in during the first batch
    known = {m.get("anonymousId") for m in first_batch if m.get("userId")}
    anonymous = next(m["anonymousId"] for m in earlier if m.get("anonymousId") and m["anonymousId"] not in known)
    login = {
        "messageId": "parity-retroactive-login",
        "type": "identify",
        "anonymousId": anonymous,
        "userId": "parity-user-1",
        "traits": {"plan": "pro"},
        "timestamp": "2026-11-02T08:00:00.000Z",
        "receivedAt": "2026-11-02T08:00:00.500Z",
    }
    write_jsonl(batch / "late.jsonl", late)
    write_jsonl(batch / "duplicates.jsonl", duplicates)
    write_jsonl(batch / "login.jsonl", [login])
    # alone on its date, which test_spark_partitions moves it from (a later copy received earlier)
    write_jsonl(batch / "lone.jsonl", [lone_event(earlier[0], LONE_EVENT_DAY)])


LONE_EVENT_ID = "parity-lone-event"
LONE_EVENT_DAY = "2026-09-21"


def lone_event(message: dict, day: str) -> dict:
    """A copy of `message` as LONE_EVENT_ID, sent at noon on `day` and received a second later."""
    copy = {key: value for key, value in message.items() if key not in ("sentAt", "originalTimestamp")}
    sent, received = f"{day}T12:00:00.000Z", f"{day}T12:00:01.000Z"
    return {**copy, "messageId": LONE_EVENT_ID, "timestamp": sent, "receivedAt": received}


def messages(files: list[Path]) -> list[dict]:
    """The well-formed single messages of the files (no batches, no faulty lines)."""
    found = []
    for path in files:
        with gzip.open(path, "rt") as lines:
            for line in lines:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if isinstance(message, dict) and isinstance(message.get("messageId"), str) and "batch" not in message:
                    found.append(message)
    return found


def write_jsonl(path: Path, lines: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
