"""GX 1.x on DuckDB: each known failure reproduced without the compatibility module, then fixed."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy

WAREHOUSE_SQL = """
create schema marts;
create table marts.t as
select i as id, case when i = 3 then 'bob@example.com' else 'x' || i end as note, '{"a": 1}'::json as payload
from range(10) as r(i);
"""

# Runs in a fresh interpreter: GX patched by only the fixes named in argv (none, or some).
PROBE = textwrap.dedent(
    """
    import gc, json, sys
    import duckdb
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from event_analytics.quality import gx_compat

    db, fixes = sys.argv[1], sys.argv[2:]
    for fix in fixes:
        getattr(gx_compat, fix)()
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_sql(name="w", connection_string=f"duckdb:///{db}")
    batch = source.add_table_asset(name="t", table_name="t", schema_name="marts").add_batch_definition_whole_table("b")
    suite = gx.ExpectationSuite(name="s")
    suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column="id"))
    suite.add_expectation(gxe.ExpectColumnValuesToNotMatchRegex(column="note", regex="@"))
    suite.add_expectation(gxe.ExpectColumnValuesToBeOfType(column="payload", type_="JSON"))
    result = batch.get_batch().validate(suite)
    out = {}
    for r in result.results:
        info = r.exception_info or {}
        message = info.get("exception_message") or ""
        if not message and isinstance(info, dict):
            message = " ".join(str(v.get("exception_message", "")) for v in info.values() if isinstance(v, dict))
        observed = str(r.result.get("observed_value"))
        out[r.expectation_config.type] = {"success": r.success, "error": message, "observed": observed}
    try:
        duckdb.connect(db).close()
        out["writable_while_gx_alive"] = True
    except duckdb.Error:
        out["writable_while_gx_alive"] = False
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gx") / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(WAREHOUSE_SQL)
    return path


def probe(warehouse: Path, *fixes: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(warehouse), *fixes], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_known_failures_without_the_module(warehouse: Path) -> None:
    # 1. every metric: the rows are read after the connection went back to the pool
    bare = probe(warehouse)
    assert not bare["expect_column_values_to_not_be_null"]["success"]
    assert "list index out of range" in bare["expect_column_values_to_not_be_null"]["error"]
    # with one connection kept, metrics work, and the next failures show:
    one_connection = probe(warehouse, "_keep_one_connection")
    assert one_connection["expect_column_values_to_not_be_null"]["success"]
    # 3. regex expectations
    assert (
        "Regex is not supported for dialect duckdb"
        in one_connection["expect_column_values_to_not_match_regex"]["error"]
    )
    # 6. JSON reflects as text, so a JSON column fails a JSON type expectation
    assert not one_connection["expect_column_values_to_be_of_type"]["success"]
    # 4. the file stays locked while GX's engine lives
    assert one_connection["writable_while_gx_alive"] is False


def test_sqlalchemy_is_pinned_below_2_1() -> None:
    # 2. SQLAlchemy 2.1's reflection fails table assets with a schema on duckdb-engine
    assert sqlalchemy.__version__.startswith("2.0.")


def test_the_module_fixes_them(warehouse: Path) -> None:
    fixed = probe(warehouse, "install")
    assert fixed["expect_column_values_to_not_be_null"]["success"]
    regex = fixed["expect_column_values_to_not_match_regex"]
    assert regex["success"] is False and regex["error"] == ""  # a real finding: bob@example.com
    assert fixed["expect_column_values_to_be_of_type"] == {"success": True, "error": "", "observed": "JSON"}


def test_release_gives_the_file_back(warehouse: Path) -> None:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    from event_analytics.quality import gx_compat

    gx_compat.install()

    def validate() -> bool:
        context = gx.get_context(mode="ephemeral")
        source = context.data_sources.add_sql(
            name="w", connection_string=f"duckdb:///{warehouse}", kwargs={"connect_args": {"read_only": True}}
        )
        asset = source.add_table_asset(name="t", table_name="t", schema_name="marts")
        suite = gx.ExpectationSuite(name="s", expectations=[gxe.ExpectColumnValuesToBeUnique(column="id")])
        result = asset.add_batch_definition_whole_table("b").get_batch().validate(suite)
        with pytest.raises(duckdb.Error):
            duckdb.connect(str(warehouse)).close()  # read-only GX handle: no writer may open it
        gx_compat.release(source)
        return result.success

    assert validate()
    gc.collect()
    with duckdb.connect(str(warehouse)) as con:  # writable again, as dbt needs after validation
        con.execute("create table marts.after_validation as select 1 as x")
