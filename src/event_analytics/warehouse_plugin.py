"""dbt-duckdb plugin: gives every DuckDB connection the PII key and the run's landing files.

profiles/profiles.yml loads it on the `duckdb` target. The key comes from $EVENT_ANALYTICS_PII_KEY
(the CLI sets it, see secrets.py); the connection gets HMAC-SHA256's padded inner and outer keys as
session variables read by the `pii_hmac` macro, so the key is never in compiled SQL, logs or
run_results.json. Without a key dbt refuses to start.

The landing files come from the load plan the CLI writes ($EVENT_ANALYTICS_LANDING_PLAN, see
ingest.py): every connection and cursor gets `landing_lines`, `landing_file_outcomes`,
`landing_reread_lines` and the `landing_prepare_reread` function. Without a plan they hold no file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from typing import Any

import duckdb
from dbt.adapters.duckdb.plugins import BasePlugin

from event_analytics.ingest import (
    PLAN_VARIABLE,
    REREAD_TYPE,
    FileOutcomes,
    LandingLines,
    LoadPlan,
    prepare_reread,
)
from event_analytics.secrets import PII_KEY_VARIABLE

_BLOCK_SIZE = 64  # SHA-256's block size in bytes (RFC 2104's B)


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """(K xor ipad, K xor opad), K zero-padded to the block size, hashed first if longer."""
    if len(key) > _BLOCK_SIZE:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK_SIZE, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        key = os.environ.get(PII_KEY_VARIABLE, "")
        if not key:
            raise RuntimeError(f"{PII_KEY_VARIABLE} is not set: personal data cannot be hashed without a secret key")
        self._inner, self._outer = hmac_pads(key.encode())
        plan_path = os.environ.get(PLAN_VARIABLE)
        self._plan = LoadPlan.read(plan_path) if plan_path else None
        self._lines = LandingLines(self._plan)
        self._outcomes = FileOutcomes(self._lines)
        self._reread = LandingLines(None)

    def _configure(self, connection: Any) -> None:
        connection.execute(f"set variable event_analytics_pii_inner = from_hex('{self._inner.hex()}')")
        connection.execute(f"set variable event_analytics_pii_outer = from_hex('{self._outer.hex()}')")
        connection.register("landing_lines", self._lines)
        connection.register("landing_file_outcomes", self._outcomes)
        connection.register("landing_reread_lines", self._reread)
        # A function belongs to the database: the connection's cursors already have it.
        with contextlib.suppress(duckdb.CatalogException):
            connection.create_function(
                "landing_prepare_reread",
                lambda files: prepare_reread(self._plan, self._reread, files),
                [duckdb.sqltype(REREAD_TYPE)],
                duckdb.sqltype("bigint"),
                null_handling="special",
                side_effects=True,
            )

    def configure_connection(self, conn: Any) -> None:
        self._configure(conn)

    def configure_cursor(self, cursor: Any) -> None:
        self._configure(cursor)
