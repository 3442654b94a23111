"""What a Spark warehouse (the `spark` target's folder, pipeline.spark_dir) has loaded, read before
dbt starts Spark: its ledger of landing files, as ingest.ledger reads DuckDB's, and the settings its
rows follow, as state.load_settings records them on DuckDB.

The ledger is the Parquet files of the table `meta.landing_files` under the folder's `tables/`
(spark.sql.warehouse.dir): starting Spark to read a few rows would take half a minute. The table
is append-only on Spark (macros/watermarks.sql), so a path's latest row is its entry.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from event_analytics.project import ConfigError

SETTINGS_FILE = "load_settings.json"


def ledger_table(spark_folder: Path) -> Path:
    return spark_folder / "tables" / "meta.db" / "landing_files"


def ledger(spark_folder: Path) -> dict[str, tuple[int, int, str | None]] | None:
    """Loaded files by path: (size, modified_us, etag). None for a folder never built."""
    folder = ledger_table(spark_folder)
    if not folder.is_dir():
        return None
    try:
        # pyarrow skips Spark's _SUCCESS and .crc files (names starting with _ or .)
        dataset = ds.dataset(str(folder), format="parquet")
        if not dataset.files:
            return {}
        table = dataset.to_table(columns=["path", "size_bytes", "modified_at", "etag", "loaded_at"])
    except (OSError, pa.ArrowInvalid) as exc:
        raise ConfigError(f"the Spark ledger {folder} cannot be read: {exc}") from exc
    modified = pc.cast(pc.cast(table["modified_at"], pa.timestamp("us")), pa.int64()).to_pylist()
    loaded = pc.cast(pc.cast(table["loaded_at"], pa.timestamp("us")), pa.int64()).to_pylist()
    latest: dict[str, tuple[int, tuple[int, int, str | None]]] = {}
    for path, size, modified_us, etag, loaded_us in zip(
        table["path"].to_pylist(),
        table["size_bytes"].to_pylist(),
        modified,
        table["etag"].to_pylist(),
        loaded,
        strict=True,
    ):
        if path not in latest or loaded_us >= latest[path][0]:
            latest[path] = (loaded_us, (size, modified_us, etag))
    return {path: entry for path, (_, entry) in latest.items()}


# How settings_drift words a change of var spark_file_format, which only a full refresh applies.
FORMAT_DRIFT = "the Spark folder's tables are"


def settings_drift(spark_folder: Path, current: dict[str, str]) -> list[str]:
    """How the settings the loaded rows follow differ from `current`, one line per setting."""
    path = spark_folder / SETTINGS_FILE
    if not path.is_file() or ledger(spark_folder) is None:
        return []
    try:
        recorded = json.loads(path.read_text())
        if not isinstance(recorded, dict):
            raise ValueError("not an object")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} cannot be read ({exc}): rerun with --full-refresh to write it again") from exc
    what = {"tracking_plan": "the tracking plan", "pii_key": "the PII key"}
    return [
        f"{FORMAT_DRIFT} {value}, not {current[name]}"
        if name == "spark_file_format"
        else f"the loaded rows follow {what.get(name, name)}: "
        + (f"{value}, not {current[name]}" if name == "tracking_plan_mode" else "another version")
        for name, value in recorded.items()
        if name in current and value != current[name]
    ]


def record_settings(spark_folder: Path, current: dict[str, str]) -> None:
    """After a build: the settings the rows follow (a full refresh or a first load sets them; an
    incremental run has already checked that they have not changed)."""
    spark_folder.mkdir(parents=True, exist_ok=True)
    staged = spark_folder / f"{SETTINGS_FILE}.tmp"
    staged.write_text(json.dumps(current, sort_keys=True))
    staged.replace(spark_folder / SETTINGS_FILE)


def staging_table(spark_folder: Path) -> Path:
    return spark_folder / "tables" / "staging.db" / "stg_segment__events"


def remove_uncommitted_tables(spark_folder: Path) -> list[str]:
    """Table folders that hold nothing but Spark's `_temporary`: a `create table … as select` stopped
    before it committed, which leaves no table in the metastore but its folder, and Spark then
    refuses to create the table there again (LOCATION_ALREADY_EXISTS), on every later run. A
    committed table has a data file or `_SUCCESS`; a table created empty (`create table`, the meta
    tables) has an empty folder, which stays. Run under the folder's lock."""
    removed = []
    for table in sorted((spark_folder / "tables").glob("*.db/*")):
        if table.is_dir() and {entry.name for entry in table.iterdir()} == {"_temporary"}:
            shutil.rmtree(table)
            removed.append(f"{table.parent.name.removesuffix('.db')}.{table.name}")
    return removed


def committed(table: Path) -> bool:
    """Whether a table's folder holds a committed write: a data file or `_SUCCESS` (an empty
    folder or one with only `_temporary` does not)."""
    return table.is_dir() and any(entry.name != "_temporary" for entry in table.iterdir())
