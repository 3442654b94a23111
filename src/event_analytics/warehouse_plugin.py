"""dbt-duckdb plugin: gives every DuckDB connection the PII key, so SQL can hash without seeing it.

profiles/profiles.yml loads it on the `duckdb` target. The key comes from $EVENT_ANALYTICS_PII_KEY
(the CLI sets it, see secrets.py); the connection gets HMAC-SHA256's padded inner and outer keys as
session variables read by the `pii_hmac` macro, so the key is never in compiled SQL, logs or
run_results.json. Without a key dbt refuses to start.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

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

    def _set_key(self, connection: Any) -> None:
        connection.execute(f"set variable event_analytics_pii_inner = from_hex('{self._inner.hex()}')")
        connection.execute(f"set variable event_analytics_pii_outer = from_hex('{self._outer.hex()}')")

    def configure_connection(self, conn: Any) -> None:
        self._set_key(conn)

    def configure_cursor(self, cursor: Any) -> None:
        self._set_key(cursor)
