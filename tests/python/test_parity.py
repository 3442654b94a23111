"""The comparison behind `event-analytics parity` (parity.py) on small hand-made relations: no Spark
needed. make test-spark runs it on real builds (tests/python/spark)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from event_analytics import cli, parity
from event_analytics.parity import DIFFERS, EQUAL, MISSING_IN_DUCKDB, MISSING_IN_SPARK, Relation, compare_relations


def rel(columns: str, *rows: tuple, json: str = "") -> Relation:
    return Relation(tuple(columns.split()), list(rows), frozenset(json.split()))


def one_float(a: float | None, b: float | None) -> str:
    return compare_relations("marts.x", rel("v", (a,)), rel("v", (b,))).status


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (0.1 + 0.2, 0.3),
        (1.0, 1.0 + 9e-10),  # absolute below 1
        (0.0, 9e-10),
        (-0.0, 0.0),
        (1e12, 1e12 + 900.0),  # relative above 1: 9e-10 of the value
        (-1e12, -1e12 - 900.0),
        (math.nan, math.nan),
        (math.inf, math.inf),
        (None, None),
    ],
)
def test_floats_within_1e_9_are_equal(a: float | None, b: float | None) -> None:
    assert one_float(a, b) == EQUAL


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (1.0, 1.0 + 2e-9),
        (0.0, 2e-9),
        (1e12, 1e12 + 2000.0),
        (math.nan, 0.0),
        (math.inf, -math.inf),
        (math.inf, 1e308),
        (None, 0.0),
    ],
)
def test_floats_beyond_1e_9_differ(a: float | None, b: float | None) -> None:
    assert one_float(a, b) == DIFFERS


def test_numbers_of_a_float_column_compare_as_floats_whatever_each_engine_typed_them() -> None:
    # DuckDB DECIMAL or INTEGER against Spark DOUBLE
    duck = rel("id rate", (1, Decimal("0.30")), (2, 3))
    spark = rel("id rate", (1, 0.1 + 0.2), (2, 3.0))
    assert compare_relations("marts.x", duck, spark).status == EQUAL


def test_integers_compare_exactly() -> None:
    big = 2**60
    assert compare_relations("marts.x", rel("n", (big,)), rel("n", (big + 1,))).status == DIFFERS


def test_rows_are_a_multiset_in_any_order() -> None:
    duck = rel("a b", ("x", 1), ("x", 1), ("y", 2))
    assert compare_relations("marts.x", duck, rel("a b", ("y", 2), ("x", 1), ("x", 1))).status == EQUAL
    result = compare_relations("marts.x", duck, rel("a b", ("x", 1), ("y", 2), ("y", 2)))
    assert (result.status, result.only_in_duckdb, result.only_in_spark) == (DIFFERS, 1, 1)
    assert result.examples_only_in_duckdb == [{"a": "x", "b": 1}]
    assert result.examples_only_in_spark == [{"a": "y", "b": 2}]
    fewer = compare_relations("marts.x", duck, rel("a b", ("x", 1), ("y", 2)))
    assert (fewer.status, fewer.duckdb_rows, fewer.spark_rows, fewer.only_in_duckdb) == (DIFFERS, 3, 2, 1)


def test_duplicate_rows_with_floats_are_counted_too() -> None:
    duck = rel("a f", ("x", 1.0), ("x", 1.0))
    assert compare_relations("marts.x", duck, rel("a f", ("x", 1.0 + 1e-12), ("x", 1.0))).status == EQUAL
    result = compare_relations("marts.x", duck, rel("a f", ("x", 1.0)))
    assert (result.status, result.only_in_duckdb, result.only_in_spark) == (DIFFERS, 1, 0)


def test_rows_whose_floats_straddle_each_other_still_pair_up() -> None:
    # sorted, the two sides interleave: (1, 5) < (1+5e-10, 3) on one side, (1, 3) < (1+5e-10, 5) on the other
    duck = rel("f g", (1.0, 5.0), (1.0 + 5e-10, 3.0))
    spark = rel("f g", (1.0, 3.0), (1.0 + 5e-10, 5.0))
    assert compare_relations("marts.x", duck, spark).status == EQUAL


def test_column_order_and_case_do_not_matter() -> None:
    duck = Relation(("id", "name"), [(1, "a")])
    spark = Relation(("name", "id"), [("a", 1)])
    assert compare_relations("marts.x", duck, spark).status == EQUAL
    upper = Relation.from_arrow(pa.table({"ID": [1], "Name": ["a"]}))
    assert compare_relations("marts.x", upper, duck).status == EQUAL


def test_json_is_compared_parsed_key_order_and_whitespace_aside() -> None:
    duck = rel("p", ('{"a":1,"b":[1,2.5],"c":{"d":null}}',), json="p")
    spark = rel("p", ('{ "c": {"d": null}, "b": [1.0, 2.5000000000001], "a": 1.0 }',))
    assert compare_relations("marts.x", duck, spark).status == EQUAL
    # floats under keys in another order (Spark's to_json sorts them, DuckDB keeps the input's)
    duck = rel("p", ('{"total": 402.11, "products": [{"price": 81.69, "name": "x"}], "tax": 75.46}',), json="p")
    spark = rel("p", ('{"products": [{"name": "x", "price": 81.69}], "tax": 75.46, "total": 402.11}',))
    assert compare_relations("marts.x", duck, spark).status == EQUAL
    maps = rel("m", ({"b": 0.25, "a": 0.5},)), rel("m", ({"a": 0.5, "b": 0.25},))
    assert compare_relations("marts.x", *maps).status == EQUAL


@pytest.mark.parametrize(
    ("duck", "spark"),
    [
        ('{"a": null}', "{}"),  # a null member is not a missing one (Spark's to_json drops nulls)
        ("null", None),  # JSON null is not SQL NULL
        ('{"a": 1}', '{"a": "1"}'),
        ('{"a": [1, 2]}', '{"a": [2, 1]}'),
        ('{"a": 1.5}', '{"a": 1.5001}'),
    ],
)
def test_json_values_that_differ(duck: str | None, spark: str | None) -> None:
    assert compare_relations("marts.x", rel("p", (duck,), json="p"), rel("p", (spark,))).status == DIFFERS


def test_a_json_column_of_either_side_is_parsed_on_both() -> None:
    # Spark has no JSON type: DuckDB's says which columns hold JSON text (or a Spark VARIANT does)
    text = rel("p", ('{"a":1}',))
    spaced = rel("p", ('{"a": 1}',))
    assert compare_relations("marts.x", text, spaced).status == DIFFERS
    assert compare_relations("marts.x", rel("p", ('{"a":1}',), json="p"), spaced).status == EQUAL
    assert compare_relations("marts.x", text, rel("p", ('{"a": 1}',), json="p")).status == EQUAL


def test_text_that_is_not_json_in_a_json_column_compares_as_text() -> None:
    assert compare_relations("marts.x", rel("p", ("{oops",), json="p"), rel("p", ("{oops",))).status == EQUAL
    assert compare_relations("marts.x", rel("p", ("{oops",), json="p"), rel("p", ("{oops ",))).status == DIFFERS


def test_a_batch_members_raw_line_compares_as_json_and_any_other_as_text() -> None:
    duckdb_rows = rel("raw_line batch_index", ('{"b":1,"a":2.0}', 0), ('{"b":1, "a":2}', None))
    sorted_keys = rel("raw_line batch_index", ('{"a":2,"b":1}', 0), ('{"b":1, "a":2}', None))
    assert compare_relations("staging.x", duckdb_rows, sorted_keys).status == EQUAL
    # a line as read (no batch_index) is the sender's bytes: spacing counts
    respaced = rel("raw_line batch_index", ('{"a":2,"b":1}', 0), ('{"b":1,"a":2}', None))
    assert compare_relations("staging.x", duckdb_rows, respaced).status == DIFFERS
    other_value = rel("raw_line batch_index", ('{"a":3,"b":1}', 0), ('{"b":1, "a":2}', None))
    assert compare_relations("staging.x", duckdb_rows, other_value).status == DIFFERS


def test_null_differs_from_empty_and_from_a_missing_column() -> None:
    assert compare_relations("marts.x", rel("a", (None,)), rel("a", ("",))).status == DIFFERS
    missing = compare_relations("marts.x", rel("a b", (1, None)), rel("a", (1,)))
    assert missing.status == DIFFERS
    assert (missing.columns_only_in_duckdb, missing.only_in_duckdb, missing.only_in_spark) == (("b",), 0, 0)
    assert "columns missing in spark: b" in missing.summary()
    extra = compare_relations("marts.x", rel("a", (1,)), rel("a c", (1, 2)))
    assert extra.columns_only_in_spark == ("c",)


def test_timestamps_are_utc_instants() -> None:
    naive = dt.datetime(2026, 10, 1, 10, 0)
    utc = dt.datetime(2026, 10, 1, 10, 0, tzinfo=dt.UTC)
    plus_two = dt.datetime(2026, 10, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert compare_relations("marts.x", rel("t", (naive,)), rel("t", (utc,))).status == EQUAL
    assert compare_relations("marts.x", rel("t", (naive,)), rel("t", (plus_two,))).status == EQUAL
    later = dt.datetime(2026, 10, 1, 10, 0, 0, 1)
    assert compare_relations("marts.x", rel("t", (naive,)), rel("t", (later,))).status == DIFFERS


def test_booleans_are_not_integers_and_bytes_compare_as_bytes() -> None:
    assert compare_relations("marts.x", rel("b", (True,)), rel("b", (1,))).status == DIFFERS
    assert compare_relations("marts.x", rel("b", (b"\x00",)), rel("b", (bytearray(b"\x00"),))).status == EQUAL


def test_maps_and_lists_are_compared_as_values() -> None:
    # DuckDB hands a map over as pairs in Arrow, a dict elsewhere
    assert compare_relations("marts.x", rel("m", ({"b": 2, "a": 1},)), rel("m", ({"a": 1, "b": 2},))).status == EQUAL
    assert compare_relations("marts.x", rel("l", ([1, 2],)), rel("l", ([2, 1],))).status == DIFFERS


def test_run_time_columns_are_left_out_and_listed() -> None:
    duck = rel("id _processed_at", (1, dt.datetime(2026, 1, 1)))
    spark = rel("id _processed_at", (1, dt.datetime(2026, 1, 2)))
    result = compare_relations("marts.x", duck, spark)
    assert (result.status, result.ignored_columns) == (EQUAL, ("_processed_at",))
    assert compare_relations("marts.x", duck, spark, ignore=()).status == DIFFERS


def test_a_relation_on_one_side_only_is_missing_on_the_other() -> None:
    result = parity.compare({"marts.a": rel("x", (1,)), "marts.b": rel("x", (1,))}, {"marts.b": rel("x", (1,))})
    assert [(r.relation, r.status) for r in result.relations] == [("marts.a", MISSING_IN_SPARK), ("marts.b", EQUAL)]
    assert not result.ok
    assert "marts.a: missing in spark (duckdb: 1 rows)" in result.describe()
    only_spark = parity.compare({}, {"staging.s": rel("x", (1,), (2,))})
    assert only_spark.relations[0].status == MISSING_IN_DUCKDB
    assert only_spark.relations[0].summary() == "missing in duckdb (spark: 2 rows)"


def test_describe_lists_each_differing_relation_with_example_rows() -> None:
    result = parity.compare(
        {"marts.a": rel("k v", ("x", 1.0), ("y", 2.0)), "marts.b": rel("k", ("same",))},
        {"marts.a": rel("k v", ("x", 1.0), ("y", 2.5)), "marts.b": rel("k", ("same",))},
    )
    text = result.describe()
    assert text.splitlines()[0] == "parity duckdb/spark: 2 relations, 1 equal, 1 not"
    assert (
        "marts.a: differs: rows duckdb 2 / spark 2; 1 only in duckdb, 1 only in spark; alike rows differ in: v 1"
        in text
    )
    assert "duckdb/spark {k: 'y'}: v: 2.0 / 2.5" in text
    assert "equal: marts.b" in text


def test_rows_alike_are_paired_to_say_which_columns_differ() -> None:
    duck = rel(
        "file line raw props",
        ("a", 1, '{"messageId":"m1","type":"track"}', '{"x": 1, "y": 2}'),
        ("a", 2, "same", '{"x": 1}'),
        ("b", 7, "only here", None),
    )
    spark = rel(
        "file line raw props",
        ("a", 1, '{"type":"track","messageId":"m1"}', '{"x": 1, "z": 3}'),
        ("a", 2, "same", '{"x": 1.5}'),
        ("c", 9, "elsewhere", "{}"),
    )
    result = compare_relations("staging.s", rel("file line raw props", *duck.rows, json="props"), spark)
    assert result.differing_columns == {"props": 2, "raw": 1}
    assert (result.only_in_duckdb, result.only_in_spark) == (3, 3)
    text = parity.ParityResult([result]).describe()
    assert "duckdb/spark {file: 'a', line: 1}: raw from char 2: " in text
    assert "props (JSON, duckdb / spark) y 2 / (absent); z (absent) / 3" in text
    assert "props (JSON, duckdb / spark) x 1 / 1.5" in text
    assert "only in duckdb: {file: 'b', line: 7, raw: 'only here', props: None}" in text
    assert "only in spark: {file: 'c', line: 9, raw: 'elsewhere', props: '{}'}" in text


def test_an_unreadable_relation_is_not_equal() -> None:
    result = compare_relations("marts.v", rel("a", (1,)), Relation.unreadable("AnalysisException: no such table"))
    assert not result.equal
    assert "spark: AnalysisException" in result.summary()


def test_spark_settings_are_the_spark_targets_for_that_folder(tmp_path: Path) -> None:
    settings = parity.spark_settings(tmp_path / "spark")
    folder = str((tmp_path / "spark").resolve())
    assert settings["spark.sql.warehouse.dir"] == f"{folder}/tables"
    assert settings["spark.hadoop.javax.jdo.option.ConnectionURL"].startswith(
        f"jdbc:derby:;databaseName={folder}/metastore_db"
    )
    assert settings["spark.sql.session.timeZone"] == "UTC"


def small_warehouse(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts; create schema quarantine; create schema meta; create schema intermediate")
        con.execute("create table marts.facts as select 1 as id, '{\"a\": 1}'::json as props, 0.5::double as rate")
        con.execute("create view marts.facts_view as select id from marts.facts")
        con.execute("create table quarantine.rejected_events as select 'x' as raw_line, now() as rejected_at")
        con.execute("create table meta.landing_files as select 'f' as path, 1::bigint as lines")
        con.execute("create table meta.pipeline_runs as select 1 as id")
        con.execute("create table intermediate.int_x as select 1 as id")
    return path


def test_read_duckdb_lists_the_compared_relations_with_their_json_columns(tmp_path: Path) -> None:
    relations = parity.read_duckdb(small_warehouse(tmp_path / "w.duckdb"))
    assert sorted(relations) == ["marts.facts", "marts.facts_view", "meta.landing_files", "quarantine.rejected_events"]
    assert relations["marts.facts"].json_columns == {"props"}
    assert relations["marts.facts"].rows == [(1, '{"a": 1}', 0.5)]


def test_a_spark_folder_without_a_metastore_has_no_relations_and_starts_no_spark(tmp_path: Path) -> None:
    assert parity.read_spark(tmp_path / "nothing") == {}


def test_cli_exits_1_listing_what_differs_and_0_when_all_is_equal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = small_warehouse(tmp_path / "w.duckdb")
    runner = CliRunner()
    unbuilt = runner.invoke(cli.app, ["parity", "--duckdb", str(warehouse), "--spark", str(tmp_path / "spark")])
    assert unbuilt.exit_code == 2, unbuilt.output
    assert "holds no metastore" in unbuilt.output
    (tmp_path / "spark" / "metastore_db").mkdir(parents=True)
    monkeypatch.setattr(parity, "read_spark", lambda _folder: {})
    missing = runner.invoke(cli.app, ["parity", "--duckdb", str(warehouse), "--spark", str(tmp_path / "spark")])
    assert missing.exit_code == 1, missing.output
    row = next(line for line in missing.output.splitlines() if " marts.facts " in line)
    assert "missing in spark" in row
    assert "4 relations, 0 equal, 4 not" in missing.output
    same = parity.read_duckdb(warehouse)
    monkeypatch.setattr(parity, "read_spark", lambda _folder: same)
    equal = runner.invoke(cli.app, ["parity", "--duckdb", str(warehouse), "--spark", str(tmp_path / "spark")])
    assert equal.exit_code == 0, equal.output
    assert "4 relations, 4 equal, 0 not" in equal.output


def test_cli_without_a_duckdb_warehouse_is_a_configuration_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.app, ["parity", "--workdir", str(tmp_path)])
    assert result.exit_code == 2
