"""The console script's contract: arguments, summary and exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest
from click.testing import Result
from typer.testing import CliRunner

from conftest import build, message, write_lines
from event_analytics.cli import app
from event_analytics.pipeline import run_dbt
from event_analytics.project import EXIT_CONFIG_ERROR
from event_analytics.runlog import read_runs
from event_analytics.secrets import PII_KEY_VARIABLE

runner = CliRunner()


def run_cli(landing: Path, warehouse: Path, *extra: str, validate: bool = False) -> Result:
    """`event-analytics run`; the GX suites (tested in test_validation.py) only when asked."""
    skip = [] if validate else ["--skip-validation"]
    return runner.invoke(app, ["run", "--landing", str(landing), "--warehouse", str(warehouse), *skip, *extra])


def landing_with_two_events(root: Path) -> Path:
    landing = root / "landing"
    write_lines(
        landing / "a.jsonl",
        [
            message("e1", "2026-10-01T10:00:00Z", anonymous_id="a1"),
            message("e2", "2026-10-01T10:40:00Z", anonymous_id="a1"),
            message("e1", "2026-10-01T10:00:00Z", received_at="2026-10-01T11:00:00Z", anonymous_id="a1"),
            "{oops",
        ],
    )
    return landing


def test_run_prints_summary_and_exits_0(tmp_path: Path) -> None:
    landing = landing_with_two_events(tmp_path)
    result = run_cli(landing, tmp_path / "w.duckdb", validate=True)
    assert result.exit_code == 0, result.output
    assert "validation passed" in result.stderr
    summary = summary_of(result.stdout)
    assert summary["messages read"] == "4"
    assert summary["events"] == "2"
    assert summary["sessions"] == "2"  # 40 minutes apart
    assert summary["users"] == "1"
    assert summary["quarantined"] == "1"
    assert summary["duplicates"] == "1"
    assert "seconds: ingest" in summary


def test_vars_reach_dbt(tmp_path: Path) -> None:
    landing = landing_with_two_events(tmp_path)
    result = run_cli(landing, tmp_path / "w.duckdb", "--vars", "{session_timeout_minutes: 45}")
    assert result.exit_code == 0, result.output
    assert summary_of(result.stdout)["sessions"] == "1"


def test_unit_tests_run_only_when_asked(tmp_path: Path) -> None:
    def resource_types(warehouse: Path) -> set[str]:
        results = json.loads((warehouse.parent / f".dbt-target-{warehouse.stem}" / "run_results.json").read_text())
        # exposures are listed with nothing to run
        return {result["unique_id"].split(".")[0] for result in results["results"]} - {"exposure"}

    landing = landing_with_two_events(tmp_path)
    scheduled, ci = tmp_path / "scheduled" / "w.duckdb", tmp_path / "ci" / "w.duckdb"
    assert run_cli(landing, scheduled).exit_code == 0
    assert resource_types(scheduled) == {"operation", "seed", "model", "test"}  # operation: on-run-start
    assert run_cli(landing, ci, "--unit-tests").exit_code == 0
    assert resource_types(ci) == {"operation", "seed", "model", "test", "unit_test"}


def test_missing_landing_folder_is_a_configuration_error(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "nope", tmp_path / "w.duckdb")
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "does not exist" in result.stderr


def test_an_unreadable_landing_folder_or_unwritable_warehouse_folder_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tests run as root, whom permissions do not stop: the OS's refusals are simulated."""
    import event_analytics.cli
    import event_analytics.landing

    landing = landing_with_two_events(tmp_path)
    real_scandir, real_access = os.scandir, os.access

    def refusing_scandir(path: object) -> object:
        if str(path) == str(landing):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    with monkeypatch.context() as patched:
        patched.setattr(event_analytics.landing.os, "scandir", refusing_scandir)
        result = run_cli(landing, tmp_path / "w.duckdb")
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines()[-1] == (
        f"event-analytics: landing folder {landing} cannot be read: Permission denied"
    )
    assert not (tmp_path / "w.duckdb").exists() and not (tmp_path / "serving").exists()

    read_only = tmp_path / "ro"
    read_only.mkdir()
    monkeypatch.setattr(
        event_analytics.cli.os, "access", lambda path, mode: str(path) != str(read_only) and real_access(path, mode)
    )
    for warehouse in (read_only / "events.duckdb", read_only / "sub" / "events.duckdb"):
        result = run_cli(landing, warehouse)
        assert result.exit_code == 2, result.output
        assert result.stderr.strip().splitlines() == [
            f"event-analytics: warehouse {warehouse}: {read_only} is not writable"
        ]
    assert list(read_only.iterdir()) == []


def test_vars_that_are_not_a_mapping_are_a_configuration_error(tmp_path: Path) -> None:
    landing = landing_with_two_events(tmp_path)
    result = runner.invoke(app, ["run", "--landing", str(landing), "--vars", "[1, 2]"])
    assert result.exit_code == 2
    assert "YAML mapping" in result.stderr


def test_failing_model_is_a_pipeline_error_with_a_one_line_reason(tmp_path: Path) -> None:
    landing = landing_with_two_events(tmp_path)
    # a table someone made where the incremental model keeps its rows, its session_id an integer:
    # dbt appends the missing columns, then the model's insert cannot cast the hashed ids
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create schema marts; create table marts.fct_sessions (session_id integer)")
    result = run_cli(landing, tmp_path / "w.duckdb")
    assert result.exit_code == 3
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("event-analytics: model fct_sessions error"), last
    [record] = read_runs(tmp_path / "w.duckdb")
    assert record["exit_code"] == 3 and record["dbt"] == "error" and record["reason"].startswith("model fct_sessions")


def test_a_var_that_is_not_a_number_is_a_config_error_before_any_work(tmp_path: Path) -> None:
    landing = landing_with_two_events(tmp_path)
    result = run_cli(landing, tmp_path / "w.duckdb", "--vars", "{session_timeout_minutes: 'not a number'}")
    assert result.exit_code == EXIT_CONFIG_ERROR
    assert "var session_timeout_minutes: input should be a valid number, not 'not a number'" in result.stderr
    assert not (tmp_path / "w.duckdb").exists()


def test_generate_if_empty_leaves_existing_files_alone(tmp_path: Path) -> None:
    landing = landing_with_two_events(tmp_path)
    result = runner.invoke(app, ["generate", "--out", str(landing), "--events", "50", "--if-empty"])
    assert result.exit_code == 0
    assert sorted(p.name for p in landing.iterdir()) == ["a.jsonl"]
    result = runner.invoke(app, ["generate", "--out", str(tmp_path / "new"), "--events", "50", "--days", "2"])
    assert result.exit_code == 0
    assert len(list((tmp_path / "new").glob("*.jsonl.gz"))) >= 2


def test_generate_rejects_a_bad_start_date(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", "--out", str(tmp_path), "--start", "2026-13-01"])
    assert result.exit_code == 2


def summary_of(output: str) -> dict[str, str]:
    return {
        cells[1].strip(): cells[2].strip()
        for cells in (line.split("│") for line in output.splitlines())
        if len(cells) == 4
    }


def test_rerun_with_nothing_new_skips_dbt_but_not_after_changes(tmp_path: Path) -> None:
    landing = landing_with_two_events(tmp_path)
    warehouse = tmp_path / "w.duckdb"
    assert run_cli(landing, warehouse).exit_code == 0
    again = run_cli(landing, warehouse)
    assert again.exit_code == 0
    assert "nothing to do" in again.stderr
    assert summary_of(again.stdout)["events"] == "2"
    # Other vars: dbt runs (re-sessionizing old data with them takes --full-refresh).
    changed = run_cli(landing, warehouse, "--vars", "{session_timeout_minutes: 45}")
    assert "nothing to do" not in changed.stderr and "seconds: total (wall)" in summary_of(changed.stdout)
    # A new file: dbt runs.
    write_lines(landing / "b.jsonl", [message("e3", "2026-10-02T10:00:00Z", anonymous_id="a2")])
    new_file = run_cli(landing, warehouse)
    assert "nothing to do" not in new_file.stderr and summary_of(new_file.stdout)["events"] == "3"


def test_a_run_stopped_after_loading_is_finished_by_the_next(tmp_path: Path) -> None:
    landing = landing_with_two_events(tmp_path)
    warehouse = tmp_path / "w.duckdb"
    assert run_cli(landing, warehouse).exit_code == 0
    write_lines(landing / "b.jsonl", [message("e3", "2026-10-02T10:00:00Z", anonymous_id="a2")])
    # As if a run died right after loading the new file: no file is new any more.
    build(landing, warehouse, select="stg_segment__events")
    finished = run_cli(landing, warehouse)
    assert "nothing to do" not in finished.stderr
    assert summary_of(finished.stdout)["events"] == "3"


def test_a_run_without_a_pii_key_refuses_to_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PII_KEY_VARIABLE)
    landing = landing_with_two_events(tmp_path)
    warehouse = tmp_path / "w.duckdb"
    refused = run_cli(landing, warehouse)
    assert refused.exit_code == EXIT_CONFIG_ERROR
    assert "EVENT_ANALYTICS_PII_KEY is not set" in refused.stderr
    assert not warehouse.exists()
    # dbt run directly refuses too: the warehouse plugin will not hash without a key
    direct = run_dbt("run", landing=landing, warehouse=warehouse)
    assert not direct.ok
    assert "EVENT_ANALYTICS_PII_KEY is not set" in direct.output

    # --dev-key (make run) creates a local key once, says so, and reuses it
    first = run_cli(landing, warehouse, "--dev-key")
    assert first.exit_code == 0, first.output
    key_file = tmp_path / "pii.key"
    assert f"created a development PII key in {key_file}" in first.stderr
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text()
    second = run_cli(landing, warehouse, "--dev-key", "--full-refresh")
    assert second.exit_code == 0, second.output
    assert "created a development PII key" not in second.stderr
    assert key_file.read_text() == key


def test_a_crash_is_a_pipeline_error_not_a_failed_check(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import event_analytics.cli as cli

    def crash() -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(cli, "app", crash)
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 3
    assert (
        capsys.readouterr().err.strip().splitlines()[-1] == "event-analytics: internal error: ZeroDivisionError: boom"
    )
