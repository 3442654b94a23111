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

``install()`` is idempotent and changes nothing for other dialects.
"""

from __future__ import annotations

import gc
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


def release(execution_engines: list[Any]) -> None:
    """Give the DuckDB file back: close kept connections, dispose engines, collect their finalizers."""
    for engine in execution_engines:
        connection = getattr(engine, "_connection", None)
        if connection is not None and not connection.closed:
            connection.close()
        engine._connection = None
        engine.engine.dispose()
    gc.collect()
