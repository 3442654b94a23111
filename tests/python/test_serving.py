"""Write-audit-publish: the serving copy BI tools read, and one writer per warehouse."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
import yaml
from click.testing import Result
from typer.testing import CliRunner

from conftest import message, write_lines
from event_analytics.cli import app
from event_analytics.project import (
    EXIT_BUSY,
    EXIT_CONFIG_ERROR,
    EXIT_PIPELINE_ERROR,
    EXIT_VALIDATION_FAILED,
    project_dir,
)
from event_analytics.runlog import read_runs
from event_analytics.serving import KEPT_VERSIONS, publish

runner = CliRunner()


def run_cli(landing: Path, warehouse: Path, *extra: str) -> Result:
    return runner.invoke(app, ["run", "--landing", str(landing), "--warehouse", str(warehouse), *extra])


def day_of_events(landing: Path, day: int, users: int = 3) -> Path:
    lines = [
        message(
            f"d{day}-u{u}-{i}",
            f"2026-10-{day:02d}T1{i}:00:00Z",
            anonymous_id=f"a{u}",
            user_id=f"u{u}",
            event="page_viewed" if i else "signup_started",
        )
        for u in range(users)
        for i in range(3)
    ]
    return write_lines(landing / f"2026-10-{day:02d}.jsonl", lines)


def mart_docs() -> dict[str, tuple[str, dict[str, str]]]:
    """Each mart's description and column descriptions, read from models/marts/_models.yml."""
    spec = yaml.safe_load((project_dir() / "models" / "marts" / "_models.yml").read_text())
    return {
        model["name"]: (
            model["description"].strip(),
            {column["name"]: column["description"].strip() for column in model.get("columns", [])},
        )
        for model in spec["models"]
    }


def rows(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_a_passing_run_publishes_the_marts_alone_with_every_comment_and_parquet(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    day_of_events(landing, 1)
    day_of_events(landing, 2, users=2)
    warehouse = tmp_path / "w" / "events.duckdb"
    result = run_cli(landing, warehouse)
    assert result.exit_code == 0, result.output
    serving = tmp_path / "w" / "serving"
    assert "published" in result.stderr

    database = serving / "analytics.duckdb"
    schemas = {row[0] for row in rows(database, "select schema_name from duckdb_tables()")}
    assert schemas == {"marts"}
    assert rows(database, "select count(*) from duckdb_views() where not internal") == [(0,)]
    working = {
        row[0]
        for row in rows(warehouse, "select table_name from information_schema.tables where table_schema = 'marts'")
    }
    served = {row[0] for row in rows(database, "select table_name from duckdb_tables()")}
    assert served == working == set(mart_docs())

    # every description, as the YAML gives it, is a comment BI tools can browse
    for name, (description, columns) in mart_docs().items():
        assert rows(database, f"select comment from duckdb_tables() where table_name = '{name}'")[0][0].strip() == (
            description
        )
        comments = dict(
            rows(database, f"select column_name, comment from duckdb_columns() where table_name = '{name}'")
        )
        assert set(comments) == set(columns), name
        assert {column: (comment or "").strip() for column, comment in comments.items()} == columns, name

    # the same rows in the working marts, the serving file and the Parquet files
    manifest = json.loads((serving / "manifest.json").read_text())
    link = serving / "parquet"
    assert link.is_symlink() and os.readlink(link) == f"versions/{manifest['publish_id']}"
    for name in served:
        working_rows = rows(warehouse, f"select count(*) from marts.{name}")[0][0]
        assert rows(database, f"select count(*) from marts.{name}")[0][0] == working_rows
        assert rows(database, f"select count(*) from '{link / (name + '.parquet')}'")[0][0] == working_rows
        assert manifest["marts"][name]["rows"] == working_rows
        columns = [r[0] for r in rows(warehouse, f"select column_name from (describe marts.{name})")]
        assert manifest["marts"][name]["columns"] == columns
    assert manifest["marts"]["fct_events"]["rows"] == 15
    # lines counted from the files' bytes, not from the pipeline
    lines = sum(path.read_bytes().count(b"\n") for path in landing.iterdir())
    assert manifest["landing"] == {"files": 2, "lines": lines}


def test_a_reader_keeps_its_snapshot_while_a_run_publishes_a_new_one(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    day_of_events(landing, 1)
    warehouse = tmp_path / "events.duckdb"
    assert run_cli(landing, warehouse).exit_code == 0
    database = tmp_path / "serving" / "analytics.duckdb"
    with duckdb.connect(str(database), read_only=True) as reader:
        before = reader.execute("select count(*) from marts.fct_events").fetchone()[0]
        day_of_events(landing, 2)
        result = run_cli(landing, warehouse)
        assert result.exit_code == 0, result.output
        # the open connection still reads the snapshot it opened
        assert reader.execute("select count(*) from marts.fct_events").fetchone()[0] == before == 9
    assert rows(database, "select count(*) from marts.fct_events") == [(18,)]


def test_a_failing_run_publishes_nothing_and_publish_does_after_review(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    day_of_events(landing, 1)
    warehouse = tmp_path / "events.duckdb"
    assert run_cli(landing, warehouse).exit_code == 0
    serving = tmp_path / "serving"
    published = {path: path.read_bytes() for path in serving.rglob("*") if path.is_file()}
    first = json.loads((serving / "manifest.json").read_text())

    day_of_events(landing, 2)
    # 20 lines of 29 quarantined: above max_rejected_share_error, an error of the audit
    (landing / "broken.jsonl").write_text("{not json\n" * 20)
    result = run_cli(landing, warehouse)
    assert result.exit_code == EXIT_VALIDATION_FAILED, result.output
    assert f"not published (this run failed): BI tools keep the copy published at {first['published_at']}" in (
        result.stderr
    )
    assert {path: path.read_bytes() for path in serving.rglob("*") if path.is_file()} == published

    result = runner.invoke(app, ["publish", "--warehouse", str(warehouse)])
    assert result.exit_code == 0, result.output
    assert rows(serving / "analytics.duckdb", "select count(*) from marts.fct_events") == [(18,)]
    assert json.loads((serving / "manifest.json").read_text())["publish_id"] != first["publish_id"]


def test_the_last_versions_of_the_parquet_files_are_kept(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    day_of_events(landing, 1)
    warehouse = tmp_path / "events.duckdb"
    assert run_cli(landing, warehouse, "--serving", str(tmp_path / "bi")).exit_code == 0
    ids = [json.loads((tmp_path / "bi" / "manifest.json").read_text())["publish_id"]]
    for _ in range(KEPT_VERSIONS + 1):
        ids.append(publish(warehouse, tmp_path / "bi").publish_id)
    assert sorted(p.name for p in (tmp_path / "bi" / "versions").iterdir()) == ids[-KEPT_VERSIONS:]
    assert os.readlink(tmp_path / "bi" / "parquet") == f"versions/{ids[-1]}"
    assert not list((tmp_path / "bi").glob(".*tmp"))


def hold(code: str, tmp_path: Path) -> subprocess.Popen[str]:
    """Another process running `code`, which prints 'held' once it holds what it holds."""
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def hold_lock(warehouse: Path, tmp_path: Path, seconds: int) -> subprocess.Popen[str]:
    """Another process holding the warehouse's lock for `seconds`, as a running `run` does."""
    return hold(
        f"""
        import time
        from pathlib import Path
        from event_analytics.locking import warehouse_lock
        with warehouse_lock(Path({str(warehouse)!r})):
            print("held", flush=True)
            time.sleep({seconds})
        """,
        tmp_path,
    )


def test_a_second_run_exits_4_at_once_or_waits_for_the_first(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    day_of_events(landing, 1)
    warehouse = tmp_path / "events.duckdb"
    holder = hold_lock(warehouse, tmp_path, seconds=4)
    try:
        started = time.monotonic()
        result = run_cli(landing, warehouse)
        assert result.exit_code == EXIT_BUSY
        assert time.monotonic() - started < 3
        holds = re.escape(str(warehouse))
        line = rf"event-analytics: another run \(pid {holder.pid}, started at [0-9T:+-]+\) holds {holds}"
        assert re.fullmatch(line, result.stderr.strip()), result.stderr
        assert not warehouse.exists()
        # a scheduler finds the skipped run in runs.jsonl too
        assert [(r["exit_code"], r["command"]) for r in read_runs(warehouse)] == [(EXIT_BUSY, "run")]
        result = run_cli(landing, warehouse, "--wait", "60")
        assert result.exit_code == 0, result.output
        assert [r["exit_code"] for r in read_runs(warehouse)] == [EXIT_BUSY, 0]
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("read_only", [True, False], ids=["bi-reader", "writer"])
def test_a_duckdb_session_on_the_working_file_gives_one_line_and_exit_4(tmp_path: Path, read_only: bool) -> None:
    landing = tmp_path / "landing"
    day_of_events(landing, 1)
    warehouse = tmp_path / "events.duckdb"
    assert run_cli(landing, warehouse, "--skip-validation").exit_code == 0
    day_of_events(landing, 2)
    holder = hold(
        f"""
        import time, duckdb
        con = duckdb.connect({str(warehouse)!r}, read_only={read_only})
        print("held", flush=True)
        time.sleep(120)
        """,
        tmp_path,
    )
    try:
        result = run_cli(landing, warehouse)
        # a reviewed publish records the review in the working file first: refused before it publishes
        published = runner.invoke(app, ["publish", "--warehouse", str(warehouse)])
    finally:
        holder.kill()
        holder.wait()
    busy = (
        f"event-analytics: pid {holder.pid} has {warehouse} open (DuckDB's file lock): close that session, "
        "or read the serving copy instead"
    )
    assert result.exit_code == EXIT_BUSY, result.output
    assert "Traceback" not in result.output
    assert [line for line in result.stderr.splitlines() if line.startswith("event-analytics:")] == [busy]
    assert published.exit_code == EXIT_BUSY, published.output
    assert published.stderr.strip().splitlines() == [busy]
    assert not (tmp_path / "serving").exists()


def test_a_run_whose_publish_failed_is_redone_and_publishes_next_time(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    day_of_events(landing, 1)
    warehouse = tmp_path / "events.duckdb"
    serving = tmp_path / "serving"
    assert run_cli(landing, warehouse).exit_code == 0
    day_of_events(landing, 2)
    (serving / "parquet").unlink()
    (serving / "parquet").mkdir()  # someone's folder where the link goes: the publish stops there
    result = run_cli(landing, warehouse)
    assert result.exit_code == EXIT_PIPELINE_ERROR, result.output
    assert result.stderr.strip().splitlines()[-1].startswith(f"event-analytics: publishing to {serving} failed")
    (serving / "parquet").rmdir()
    # nothing new in the landing folder, but the last run did not finish: it is redone
    result = run_cli(landing, warehouse)
    assert result.exit_code == 0, result.output
    assert "nothing to do" not in result.stderr
    assert rows(serving / "analytics.duckdb", "select count(*) from marts.fct_events") == [(18,)]
    parquet = serving / "parquet" / "fct_events.parquet"
    assert rows(serving / "analytics.duckdb", f"select count(*) from '{parquet}'") == [(18,)]
    result = run_cli(landing, warehouse)
    assert result.exit_code == 0, result.output
    assert "nothing to do" in result.stderr


def test_serving_folders_a_publish_would_damage_are_refused(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    day_of_events(landing, 1)
    folder = tmp_path / "w"
    warehouse = folder / "analytics.duckdb"  # named like the serving copy
    assert run_cli(landing, warehouse, "--skip-validation").exit_code == 0
    before = warehouse.read_bytes()

    def publish_to(serving: str, *extra: str) -> Result:
        return runner.invoke(app, ["publish", "--warehouse", str(warehouse), "--serving", serving, *extra])

    # the working warehouse itself, a folder of someone else's files, no path, a path DuckDB misreads
    foreign = tmp_path / "mine"
    (foreign / "parquet").mkdir(parents=True)
    (foreign / "parquet" / "data.txt").write_text("precious")
    for serving, reason in [
        (str(folder), "is the working warehouse"),
        (str(foreign), "holds 'parquet' and no manifest.json: not a serving copy"),
        ("", "holds"),  # an empty path is the working directory
        (str(tmp_path / "s?x"), "DuckDB cannot open files under a path with '?'"),
    ]:
        result = publish_to(serving)
        assert result.exit_code == EXIT_CONFIG_ERROR, (serving, result.output)
        assert reason in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert warehouse.read_bytes() == before
    assert (foreign / "parquet" / "data.txt").read_text() == "precious"

    # inside the landing folder its files would be read as events
    result = run_cli(landing, warehouse, "--serving", str(landing / "serving"))
    assert result.exit_code == EXIT_CONFIG_ERROR
    assert "is inside the landing folder" in result.stderr

    # a killed publish's leftovers go, the published version stays
    serving = tmp_path / "serving"
    assert publish_to(str(serving)).exit_code == 0
    current = os.readlink(serving / "parquet")
    (serving / "versions" / "29991231T235959000000Z").mkdir()
    (serving / ".analytics.duckdb.99999.tmp").write_bytes(b"half")
    assert publish_to(str(serving)).exit_code == 0
    kept = sorted(p.name for p in (serving / "versions").iterdir())
    assert "29991231T235959000000Z" not in kept and current.split("/")[1] in kept
    assert not (serving / ".analytics.duckdb.99999.tmp").exists()

    # not a DuckDB file: one line, exit 3
    garbage = tmp_path / "garbage.duckdb"
    garbage.write_text("garbage")
    result = runner.invoke(app, ["publish", "--warehouse", str(garbage), "--serving", str(tmp_path / "g")])
    assert result.exit_code == EXIT_PIPELINE_ERROR
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output, result.output


def test_the_lock_is_the_files_whichever_path_names_it(tmp_path: Path) -> None:
    warehouse = tmp_path / "real" / "events.duckdb"
    warehouse.parent.mkdir()
    duckdb.connect(str(warehouse)).close()
    link = tmp_path / "link.duckdb"
    link.symlink_to(warehouse)
    holder = hold_lock(warehouse, tmp_path, seconds=60)
    try:
        result = runner.invoke(app, ["publish", "--warehouse", str(link), "--serving", str(tmp_path / "s")])
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == EXIT_BUSY, result.output
    assert f"another run (pid {holder.pid}" in result.stderr
