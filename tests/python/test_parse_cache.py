"""A new warehouse reuses an earlier parse only where dbt's own check accepts it (dbt_worker).

On a copy of the project, so that a model can change: each parse runs in its own process, as a
run's does, with the environment a run gives dbt (pipeline.dbt_environment).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from event_analytics.dbt_worker import CACHE_FOLDER, PLACEHOLDER
from event_analytics.pipeline import dbt_environment
from event_analytics.project import project_dir

PARSE = "import sys; from event_analytics.dbt_worker import parse; sys.exit(0 if parse(sys.argv[1:]).success else 2)"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    source, copy = project_dir(), tmp_path / "project"
    copy.mkdir()
    for name in ("dbt_project.yml", "tracking_plan.yml"):
        shutil.copy(source / name, copy / name)
    for name in ("models", "macros", "seeds", "profiles"):
        shutil.copytree(source / name, copy / name)
    (copy / "tests").mkdir()
    for test in (source / "tests").glob("*.sql"):
        shutil.copy(test, copy / "tests" / test.name)
    return copy


def parse(project: Path, warehouse: Path, dbt_vars: str = "{}") -> tuple[str, dict]:
    """What the parse printed and logged, and the manifest it wrote."""
    target = warehouse.parent / "target"
    done = subprocess.run(
        [sys.executable, "-c", PARSE, "--project-dir", str(project), "--profiles-dir", str(project / "profiles")]
        + ["--vars", dbt_vars, "--target-path", str(target)],
        cwd=project,
        env=dbt_environment(warehouse),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    log = (warehouse.parent / "logs" / "dbt.log").read_text()
    return done.stdout + log, json.loads((target / "manifest.json").read_text())


def test_a_new_warehouse_reuses_a_parse_only_where_dbt_accepts_it(project: Path, tmp_path: Path) -> None:
    first, _ = parse(project, tmp_path / "a" / "events.duckdb")
    assert "saved manifest not found" in first

    # another warehouse (another folder, spill folder and target folder): the same parse
    reused, _ = parse(project, tmp_path / "b" / "events.duckdb")
    assert "no changes found, skipping parsing" in reused

    # a changed model is parsed again, in a warehouse that has never parsed
    model = project / "models" / "marts" / "fct_events.sql"
    model.write_text(model.read_text() + "\n-- changed after the shared parse\n")
    changed, manifest = parse(project, tmp_path / "c" / "events.duckdb")
    assert "0 files added, 1 files changed" in changed
    assert "changed after the shared parse" in manifest["nodes"]["model.event_analytics.fct_events"]["raw_code"]

    # other vars: not that parse (dbt parses with the vars it is given)
    other_vars, _ = parse(project, tmp_path / "d" / "events.duckdb", '{"session_timeout_minutes": 45}')
    assert "saved manifest not found" in other_vars

    # a model that reads the warehouse's location while parsing gets the real one; its parse is not shared
    (project / "models" / "where_parsed.sql").write_text("{{ config(meta={'path': target.path}) }}\nselect 1 as one\n")
    warehouse = tmp_path / "e" / "events.duckdb"
    located, manifest = parse(project, warehouse)
    assert "parsed again, not shared" in located
    assert manifest["nodes"]["model.event_analytics.where_parsed"]["meta"] == {"path": str(warehouse)}
    assert PLACEHOLDER.encode() not in (warehouse.parent / "target" / "partial_parse.msgpack").read_bytes()
    shared = list((project / CACHE_FOLDER).glob("*.msgpack"))
    assert len(shared) == 2
    assert not any(PLACEHOLDER.encode() in entry.read_bytes() for entry in shared)
