"""make test-spark (issue 21): on Spark, int_events__deduplicated and int_events__sessionized are
partitioned by occurred_on, and an incremental run writes only the partitions it changes
(macros/adapters/partitions.sql). Proved after test_spark_parity's two builds (conftest.py):

- a run stopped after committing a change (its new partitions in <table>__pending, their list in
  <table>__pending_parts) and part way through applying it: one partition's files removed, a
  partition the change empties still there. The next run must complete it before any model reads
  the table;
- the same run moves an event to another date (a later copy, received earlier, wins), which empties
  the partition it was alone in: that partition must go, not keep its stale row.

After it both engines must still agree row for row (parity.py), and each table's partitions must be
exactly the dates of its rows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_spark_parity import LONE_EVENT_DAY, LONE_EVENT_ID, check, lone_event, write_jsonl

from event_analytics import parity
from event_analytics.project import project_dir

TABLES = ["intermediate.int_events__deduplicated", "intermediate.int_events__sessionized"]
STOPPED = "intermediate.int_events__sessionized"
# a date no event has: the committed change emptied this partition, which the stopped run had not dropped
STALE_DAY = "1999-01-01"
MOVED_TO_DAY = "2026-09-20"

STOP_PART_WAY = """
import json, sys
from pathlib import Path
from pyspark.sql import functions as F
from event_analytics.parity import open_spark_session
spark = open_spark_session(Path(sys.argv[1]), "test_spark_partitions")
table, stale = sys.argv[2], sys.argv[3]
try:
    day = spark.table(table).agg(F.max("occurred_on")).first()[0].isoformat()
    spark.sql(f"create table {table}__pending like {table}")
    spark.sql(f"insert into {table}__pending select * from {table} where occurred_on = date'{day}'")
    stale_row = spark.table(table).where(f"occurred_on = date'{day}'").limit(1)
    stale_row.withColumn("occurred_on", F.lit(stale).cast("date")).write.insertInto(table)
    spark.sql(f"alter table {table} drop partition (occurred_on = '{day}')")
    spark.sql(f"create table {table}__pending_parts using parquet as "
              f"select * from values (date'{day}'), (date'{stale}') as parts(occurred_on)")
    print(json.dumps({"day": day}))
finally:
    spark.stop()
"""

PARTITIONS = """
import json, sys
from pathlib import Path
from event_analytics.parity import open_spark_session
spark = open_spark_session(Path(sys.argv[1]), "test_spark_partitions")
try:
    found = {}
    for table in json.loads(sys.argv[2]):
        listed = sorted(row[0] for row in spark.sql(f"show partitions {table}").collect())
        dates = sorted(f"occurred_on={row[0].isoformat()}" for row in
                       spark.sql(f"select distinct occurred_on from {table}").collect())
        lone = [row[0].isoformat() for row in spark.sql(
            f"select occurred_on from {table} where event_id = '{sys.argv[3]}'").collect()]
        found[table] = {"partitions": listed, "dates": dates, "lone_event": lone}
    leftovers = spark.sql("show tables in intermediate like '*__pending*'").collect()
    found["leftovers"] = sorted(row.tableName for row in leftovers)
    print(json.dumps(found))
finally:
    spark.stop()
"""


def test_a_stopped_overwrite_is_completed_and_an_emptied_partition_goes(
    landing: Path, workdir: parity.Workdir, full_build: parity.ParityResult
) -> None:
    before = spark_child(PARTITIONS, workdir.spark_dir, json.dumps(TABLES), LONE_EVENT_ID)
    if not before[TABLES[0]]["lone_event"]:
        pytest.skip("needs test_spark_parity's incremental run (its lone event) first")
    for table in TABLES:
        assert before[table]["lone_event"] == [LONE_EVENT_DAY]
        assert f"occurred_on={LONE_EVENT_DAY}" in before[table]["partitions"]

    stopped = spark_child(STOP_PART_WAY, workdir.spark_dir, STOPPED, STALE_DAY)
    # the earlier copy: received a day before the stored one, so it wins and moves the event
    sent = json.loads(next(iter(lines_of(landing / "batch-2" / "lone.jsonl"))))
    write_jsonl(landing / "batch-3" / "moved.jsonl", [lone_event(sent, MOVED_TO_DAY)])

    check(parity.build_and_compare(landing, workdir), "incremental run after a stopped partition overwrite")

    after = spark_child(PARTITIONS, workdir.spark_dir, json.dumps(TABLES), LONE_EVENT_ID)
    assert after["leftovers"] == []
    for table in TABLES:
        assert after[table]["partitions"] == after[table]["dates"], table
        assert after[table]["lone_event"] == [MOVED_TO_DAY], table
        assert f"occurred_on={LONE_EVENT_DAY}" not in after[table]["partitions"], table
        assert f"occurred_on={STALE_DAY}" not in after[table]["partitions"], table
        assert f"occurred_on={stopped['day']}" in after[table]["partitions"], table


def lines_of(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


def spark_child(script: str, *args: object) -> dict:
    """The script's JSON answer, from a Spark session in a child process (Derby admits one JVM)."""
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=str(project_dir()),
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
