"""Row counts of a built warehouse, for the run summary and the benchmark."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class WarehouseCounts:
    # staging's rows: a line's message, or each member of a batch line
    messages_read: int
    events: int
    sessions: int
    users: int
    quarantined: int
    duplicates: int


def warehouse_counts(warehouse: Path) -> WarehouseCounts:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(
            """
            select
                (select count(*) from staging.stg_segment__events),
                (select count(*) from marts.fct_events),
                (select count(*) from marts.fct_sessions),
                (select count(*) from marts.dim_users),
                (select count(*) from quarantine.rejected_events),
                (select count(*) from quarantine.duplicate_events)
            """
        ).fetchone()
    assert row is not None
    return WarehouseCounts(*row)
