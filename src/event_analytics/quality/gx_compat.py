"""Make Great Expectations 1.x's SQL path work on DuckDB (GX 1.24, duckdb-engine 0.17, SQLAlchemy 2.0).

GX has no DuckDB support of its own; its SQLAlchemy engine mostly works through duckdb-engine's
Postgres-derived dialect, except for these, each reproduced and fixed in tests/python/test_gx_compat.py:

1. Every metric fails with ``IndexError: list index out of range``: GX executes a query inside
   ``with engine.connect()``, leaves the block (the connection rolls back and returns to the pool) and
   only then fetches the rows, which DuckDB has discarded. Fix: for DuckDB, GX keeps one connection
   for the engine's lifetime, as it already does for SQLite and SQL Server.
2. Table assets with a schema fail under SQLAlchemy 2.1's reflection (``pg_catalog.pg_collation``):
   fixed by pinning SQLAlchemy 2.0.x (see pyproject.toml), nothing to patch.
3. Regex expectations raise ``Regex is not supported for dialect duckdb``: GX recognises the Postgres
   dialect class by identity, not duckdb-engine's subclass. Fix: emit DuckDB's own
   ``regexp_matches(column, pattern)`` (RE2 syntax, as the patterns in the tracking plan are written).
4. While GX's engine is alive the DuckDB file is locked against dbt: ``release`` closes the kept
   connection and disposes the engine; validation opens the file read-only so it cannot write.
5. ``import great_expectations`` costs seconds: the CLI imports this package only when it validates.
6. Column types: duckdb-engine reflects through DuckDB's Postgres catalog emulation, where JSON is
   ``varchar`` and VARCHAR becomes SQLAlchemy's generic ``String``, so a type expectation could not
   tell a JSON column from text. Fix: reflected columns take their type from DuckDB's own
   ``information_schema.columns``, as SQLAlchemy's uppercase type of the same name, so suites name
   DuckDB's types (VARCHAR, JSON, BIGINT, DOUBLE, TIMESTAMP, ...), as dbt contracts do.

``install()`` is idempotent and changes nothing for other dialects.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from great_expectations.execution_engine import sqlalchemy_execution_engine as gx_engine
from great_expectations.expectations.metrics import util as gx_metric_util

_installed = False


def _is_duckdb(dialect: Any) -> bool:
    dialect_class = getattr(dialect, "dialect", dialect)
    return getattr(dialect_class, "name", None) == "duckdb"


def install() -> None:
    global _installed
    if _installed:
        return
    _keep_one_connection()
    _regex_in_duckdb()
    _duckdb_column_types()
    _installed = True


def _keep_one_connection() -> None:
    engine_class = gx_engine.SqlAlchemyExecutionEngine
    original = engine_class.get_connection

    @contextmanager
    def get_connection(self: Any) -> Generator[sa.Connection, None, None]:
        if self.engine.dialect.name != "duckdb":
            with original(self) as connection:
                yield connection
            return
        if self._connection is None or self._connection.closed:
            self._connection = self.engine.connect()
        yield self._connection

    engine_class.get_connection = get_connection


def _regex_in_duckdb() -> None:
    original = gx_metric_util.get_dialect_regex_expression

    def get_dialect_regex_expression(column: Any, regex: str, dialect: Any, positive: bool = True) -> Any:
        if not _is_duckdb(dialect):
            return original(column, regex, dialect, positive)
        matches = sa.func.regexp_matches(column, sa.literal(regex))
        return matches if positive else sa.not_(matches)

    gx_metric_util.get_dialect_regex_expression = get_dialect_regex_expression
    # The metric modules imported the function by name; rebind it where they hold it.
    import sys

    for name, module in list(sys.modules.items()):
        if name.startswith("great_expectations.expectations.metrics") and (
            getattr(module, "get_dialect_regex_expression", None) is original
        ):
            module.get_dialect_regex_expression = get_dialect_regex_expression


# DuckDB type names (information_schema.columns.data_type) and the SQLAlchemy types they reflect as.
DUCKDB_TYPES: dict[str, type[sa.types.TypeEngine[Any]]] = {
    "VARCHAR": sa.VARCHAR,
    "JSON": sa.JSON,
    "BOOLEAN": sa.BOOLEAN,
    "SMALLINT": sa.SMALLINT,
    "INTEGER": sa.INTEGER,
    "BIGINT": sa.BIGINT,
    "BLOB": sa.BLOB,
    "DOUBLE": sa.DOUBLE,
    "FLOAT": sa.FLOAT,
    "DATE": sa.DATE,
    "TIMESTAMP": sa.TIMESTAMP,
    "TIMESTAMP WITH TIME ZONE": sa.TIMESTAMP,
}


def _duckdb_column_types() -> None:
    import duckdb_engine

    original = duckdb_engine.Dialect.get_columns

    def get_columns(self: Any, connection: Any, table_name: str, schema: str | None = None, **kw: Any) -> Any:
        columns = original(self, connection, table_name, schema=schema, **kw)
        declared = dict(
            connection.execute(
                sa.text(
                    "select column_name, data_type from information_schema.columns "
                    "where table_name = :table and table_schema = coalesce(:schema, current_schema())"
                ),
                {"table": table_name, "schema": schema},
            ).all()
        )
        for column in columns:
            duckdb_type = DUCKDB_TYPES.get(str(declared.get(column["name"], "")).upper())
            if duckdb_type is not None:
                column["type"] = duckdb_type()
        return columns

    duckdb_engine.Dialect.get_columns = get_columns


def release(datasource: Any) -> None:
    """Give the DuckDB file back: close the kept connection and dispose both engines GX made for a
    SQL datasource (its own, used to reflect tables, and its execution engine's). The caller drops
    its GX objects and collects garbage afterwards: DuckDB closes a file when its last handle goes."""
    execution_engine = datasource.get_execution_engine()
    connection = getattr(execution_engine, "_connection", None)
    if connection is not None and not connection.closed:
        connection.close()
    execution_engine._connection = None
    execution_engine.engine.dispose()
    if datasource._engine is not None:
        datasource._engine.dispose()
