"""Parity of the two engines (issue 21): the same models built on DuckDB and on Spark give the same
rows. `event-analytics parity` and make test-spark use it.

Compared: every relation of the schemas marts, quarantine and staging, and meta.landing_files,
listed from DuckDB's information_schema and from Spark's catalog. Two relations are equal when
they have the same column names (case aside, in any order) and the same multiset of rows (a row
twice on one side must be twice on the other), where:

- floats (and decimals) are equal when |a - b| <= 1e-9 * max(1, |a|, |b|): absolute below 1,
  relative above (math.isclose with rel_tol and abs_tol 1e-9); NaN equals NaN, an infinity
  itself; a column where neither side holds a float or a decimal compares exactly;
- JSON text (a column DuckDB types JSON, or a Spark VARIANT) is compared as parsed values: key
  order and whitespace do not matter, `null` differs from a missing key, JSON `null` differs from
  SQL NULL, and a number is a float as above (1 and 1.0 are equal);
- timestamps are UTC instants: a naive one (DuckDB's TIMESTAMP, Spark's TIMESTAMP_NTZ) is read as
  UTC, an aware one is converted;
- `raw_line` of a batch member (a row whose `batch_index` is set) is the member's JSON as each
  engine writes it again (DuckDB keeps the sender's key order, a Spark VARIANT sorts the keys), so
  it is compared as JSON; every other `raw_line` is the line as read, compared exactly;
- columns that record when a run happened, not what it computed (RUN_TIME_COLUMNS), are left
  out on both sides and listed as ignored.

To say what differs, a row found on one side only is paired with the most alike row found on the
other side only (equal in at least half of the columns): the result counts which columns differ in
those pairs and shows a few, and a few rows that have no such partner.

Spark is read in a child process (`python -m event_analytics.parity dump-spark`) that opens the
warehouse with the spark target's own settings (profiles/profiles.yml rendered with
$EVENT_ANALYTICS_SPARK_DIR) and hands the rows over as Arrow files: its embedded Derby metastore
admits one JVM at a time, so it is opened only after dbt's has exited, and closed with the child.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from event_analytics.project import project_dir
from event_analytics.secrets import PII_KEY_VARIABLE
from event_analytics.spark_session import SPARK_DIR_VARIABLE

SCHEMAS = ("marts", "quarantine", "staging")
EXTRA_RELATIONS = ("meta.landing_files",)
# When a run happened, not what it computed: the two engines' runs never share these.
RUN_TIME_COLUMNS = frozenset({"_processed_at", "_loaded_at", "rejected_at", "loaded_at"})
FLOAT_TOLERANCE = 1e-9
EXAMPLES = 3
# Beyond this many candidate pairs left after the sorted pass, leftover rows are not matched again.
GREEDY_LIMIT = 250_000

EQUAL = "equal"
DIFFERS = "differs"
MISSING_IN_DUCKDB = "missing in duckdb"
MISSING_IN_SPARK = "missing in spark"
UNREADABLE = "unreadable"


class ParityError(Exception):
    """A side could not be read at all (not a difference between them)."""


@dataclass(frozen=True)
class Relation:
    """One side's relation: its columns (lower case) and rows, and which columns hold JSON text."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    json_columns: frozenset[str] = frozenset()
    error: str | None = None

    @classmethod
    def from_arrow(cls, table: pa.Table, json_columns: Iterable[str] = ()) -> Relation:
        columns = tuple(name.lower() for name in table.column_names)
        rows = [
            tuple(row) for row in zip(*(table.column(i).to_pylist() for i in range(table.num_columns)), strict=True)
        ]
        if not columns:
            rows = []
        return cls(columns, rows, frozenset(name.lower() for name in json_columns))

    @classmethod
    def unreadable(cls, error: str) -> Relation:
        return cls((), [], frozenset(), error)


@dataclass
class RelationParity:
    relation: str
    status: str
    duckdb_rows: int | None = None
    spark_rows: int | None = None
    only_in_duckdb: int = 0
    only_in_spark: int = 0
    columns_only_in_duckdb: tuple[str, ...] = ()
    columns_only_in_spark: tuple[str, ...] = ()
    ignored_columns: tuple[str, ...] = ()
    examples_only_in_duckdb: list[dict[str, Any]] = field(default_factory=list)
    examples_only_in_spark: list[dict[str, Any]] = field(default_factory=list)
    # Rows of one side paired with the most alike row of the other (see _pair): how often each
    # column differs in those pairs, and a few pairs.
    differing_columns: dict[str, int] = field(default_factory=dict)
    examples_paired: list[PairedRows] = field(default_factory=list)
    json_columns: tuple[str, ...] = ()
    error: str | None = None

    @property
    def equal(self) -> bool:
        return self.status == EQUAL

    def summary(self) -> str:
        """One line: what differs."""
        if self.status in (MISSING_IN_DUCKDB, MISSING_IN_SPARK):
            present = self.spark_rows if self.status == MISSING_IN_DUCKDB else self.duckdb_rows
            other = "spark" if self.status == MISSING_IN_DUCKDB else "duckdb"
            return f"{self.status} ({other}: {present:,} rows)"
        if self.status == UNREADABLE:
            return f"unreadable: {self.error}"
        if self.status == EQUAL:
            return f"equal ({self.duckdb_rows:,} rows)"
        parts = [f"rows duckdb {self.duckdb_rows:,} / spark {self.spark_rows:,}"]
        if self.only_in_duckdb or self.only_in_spark:
            parts.append(f"{self.only_in_duckdb:,} only in duckdb, {self.only_in_spark:,} only in spark")
        if self.differing_columns:
            pairs = ", ".join(f"{name} {count:,}" for name, count in self.differing_columns.items())
            parts.append(f"alike rows differ in: {pairs}")
        if self.columns_only_in_duckdb:
            parts.append("columns missing in spark: " + ", ".join(self.columns_only_in_duckdb))
        if self.columns_only_in_spark:
            parts.append("columns missing in duckdb: " + ", ".join(self.columns_only_in_spark))
        return "differs: " + "; ".join(parts)


@dataclass
class PairedRows:
    """A row only in DuckDB and the most alike row only in Spark: a few columns they share, and the
    columns that differ (DuckDB's value, Spark's)."""

    same: dict[str, Any]
    differences: dict[str, tuple[Any, Any]]

    def describe(self, json_columns: Iterable[str] = ()) -> str:
        json_columns = set(json_columns)
        parts = [
            describe_difference(name, duckdb, spark, name in json_columns)
            for name, (duckdb, spark) in self.differences.items()
        ]
        return f"{format_row(self.same)}: " + "; ".join(parts)


@dataclass
class EngineRun:
    """One `event-analytics run` of the pipeline on one engine."""

    target: str
    exit_code: int
    log: Path
    last_line: str

    def summary(self) -> str:
        return f"{self.target} run exited {self.exit_code}: {self.last_line} (log: {self.log})"


@dataclass
class ParityResult:
    relations: list[RelationParity]
    runs: list[EngineRun] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(relation.equal for relation in self.relations)

    @property
    def differing(self) -> list[RelationParity]:
        return [relation for relation in self.relations if not relation.equal]

    def describe(self, examples: bool = True) -> str:
        """The result for a person (and a failing test's message): every relation that is not equal,
        with a few of its rows only on one side, then the names of the equal ones."""
        equal = [relation.relation for relation in self.relations if relation.equal]
        lines = [self.headline()]
        lines += [f"  {run.summary()}" for run in self.runs if run.exit_code != 0]
        for relation in self.differing:
            lines.append(f"  {relation.relation}: {relation.summary()}")
            if examples:
                lines += self._example_lines(relation)
        if equal:
            lines.append("  equal: " + ", ".join(equal))
        return "\n".join(lines)

    def headline(self) -> str:
        return (
            f"parity duckdb/spark: {len(self.relations)} relations,"
            f" {len(self.relations) - len(self.differing)} equal, {len(self.differing)} not"
        )

    def examples(self) -> str:
        """Only the rows found on one side, under their relation's name."""
        lines = []
        for relation in self.differing:
            rows = self._example_lines(relation)
            if rows:
                lines += [f"  {relation.relation}:", *rows]
        return "\n".join(lines)

    @staticmethod
    def _example_lines(relation: RelationParity) -> list[str]:
        lines = [f"      duckdb/spark {pair.describe(relation.json_columns)}" for pair in relation.examples_paired]
        return lines + [
            f"      only in {side}: {format_row(row)}"
            for side, rows in (("duckdb", relation.examples_only_in_duckdb), ("spark", relation.examples_only_in_spark))
            for row in rows
        ]


def format_row(row: Mapping[str, Any], width: int = 60) -> str:
    return "{" + ", ".join(f"{name}: {short(value, width)}" for name, value in row.items()) + "}"


def short(value: Any, width: int = 60) -> str:
    """A value for a person: dates and times in ISO 8601, long text cut."""
    if isinstance(value, dt.date | dt.time):
        text = value.isoformat()
    elif isinstance(value, Decimal):
        text = str(value)
    else:
        text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def describe_difference(name: str, duckdb: Any, spark: Any, is_json: bool = False, width: int = 50) -> str:
    """One column's two values, cut to where they start to differ (JSON: the paths that differ)."""
    if is_json and isinstance(duckdb, str) and isinstance(spark, str):
        try:
            left, right = json.loads(duckdb), json.loads(spark)
        except ValueError:
            pass
        else:
            paths = json_differences(left, right)
            shown = "; ".join(
                f"{path or '(top)'} {_json_side(a, width // 2)} / {_json_side(b, width // 2)}"
                for path, a, b in paths[:4]
            )
            more = f" (and {len(paths) - 4} more)" if len(paths) > 4 else ""
            return f"{name} (JSON, duckdb / spark) {shown}{more}"
    if isinstance(duckdb, str) and isinstance(spark, str):
        start = next(
            (i for i, (a, b) in enumerate(zip(duckdb, spark, strict=False)) if a != b), min(len(duckdb), len(spark))
        )
        cut = max(0, start - 10)
        prefix = "..." if cut else ""
        return f"{name} from char {start}: {prefix}{duckdb[cut : cut + width]!r} / {prefix}{spark[cut : cut + width]!r}"
    return f"{name}: {short(duckdb, width)} / {short(spark, width)}"


_ABSENT = object()


def _json_side(value: Any, width: int) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = json.dumps(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def json_differences(left: Any, right: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """The paths (`a.b[2].c`) where two parsed JSON values differ, as parity compares them; a
    member absent on one side is _ABSENT there."""
    if isinstance(left, dict) and isinstance(right, dict):
        found = []
        for key in list(left) + [key for key in right if key not in left]:
            inner = f"{path}.{key}" if path else str(key)
            found += json_differences(left.get(key, _ABSENT), right.get(key, _ABSENT), inner)
        return found
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        found = []
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            found += json_differences(a, b, f"{path}[{i}]")
        return found
    if left is _ABSENT or right is _ABSENT:
        return [(path, left, right)]
    floats_left: list[float] = []
    floats_right: list[float] = []
    same = _json_value(left, floats_left) == _json_value(right, floats_right) and len(floats_left) == len(floats_right)
    if same and _vector_order(tuple(floats_left), tuple(floats_right)) == 0:
        return []
    return [(path, left, right)]


# ---------------------------------------------------------------------------------------------
# Comparison


class _Float:
    """Stands in the exact part of a row for a value compared with tolerance."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<float>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Float)

    def __lt__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return 0x5EED


FLOAT = _Float()
_JSON_NULL = ("json", "null")
_MAX_EXACT_FLOAT_INT = 2**53


def floats_equal(a: float, b: float) -> bool:
    """|a - b| <= 1e-9 * max(1, |a|, |b|); NaN equals NaN."""
    if a == b:
        return True
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)


def _sort_key(value: Any) -> tuple[int, Any]:
    """Orders any normalised value (None first; mixed types by their type's name)."""
    if value is None:
        return (0, "")
    if isinstance(value, tuple):
        return (2, tuple(_sort_key(item) for item in value))
    if isinstance(value, float):
        return (1, ("float", (1, 0.0) if math.isnan(value) else (0, value)))
    return (1, (type(value).__name__, value))


def _normal(value: Any, floats: list[float], numbers_as_floats: bool) -> Any:
    """A hashable, engine-neutral form of a value; floats go to `floats` (in order) and leave FLOAT."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, float | Decimal) or (numbers_as_floats and isinstance(value, int)):
        floats.append(float(value))
        return FLOAT
    if isinstance(value, int):
        return value
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return ("timestamp", aware.astimezone(dt.UTC))
    if isinstance(value, dt.date | dt.time | dt.timedelta | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return ("bytes", bytes(value))
    if isinstance(value, Mapping):
        # keys in order before the values: floats go to `floats` in an order both engines share
        ordered = sorted(((str(key), item) for key, item in value.items()), key=lambda pair: pair[0])
        return ("map", tuple((key, _normal(item, floats, numbers_as_floats)) for key, item in ordered))
    if isinstance(value, list | tuple):
        return ("list", tuple(_normal(item, floats, numbers_as_floats) for item in value))
    return ("other", repr(value))


def _normal_json(text: Any, floats: list[float]) -> Any:
    """JSON text as its parsed value (keys sorted; numbers as floats, integers exact)."""
    if text is None:
        return None
    if not isinstance(text, str):
        text = str(text)
    try:
        parsed = json.loads(text)
    except ValueError:
        return ("json-unparsable", text)
    if parsed is None:
        return _JSON_NULL
    return ("json", _json_value(parsed, floats))


def _json_value(value: Any, floats: list[float]) -> Any:
    if value is None:
        return _JSON_NULL
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, float):
        # 1.0 and 1 are the same JSON number; a fraction is compared with tolerance
        if value.is_integer() and abs(value) < _MAX_EXACT_FLOAT_INT:
            return int(value)
        floats.append(value)
        return FLOAT
    if isinstance(value, dict):
        # keys in order before the values: floats go to `floats` in an order both engines share
        return ("object", tuple((key, _json_value(value[key], floats)) for key in sorted(value)))
    if isinstance(value, list):
        return ("array", tuple(_json_value(item, floats) for item in value))
    return value


def _float_columns(left: Relation, right: Relation, columns: Sequence[str]) -> set[str]:
    """Columns where either side holds a float or a decimal: numbers there compare with tolerance."""
    found = set()
    for relation in (left, right):
        index = {name: i for i, name in enumerate(relation.columns)}
        for name in columns:
            if name in found:
                continue
            i = index[name]
            if any(isinstance(row[i], float | Decimal) for row in relation.rows):
                found.add(name)
    return found


def _keyed_rows(
    relation: Relation, columns: Sequence[str], json_columns: set[str], float_columns: set[str]
) -> dict[Any, list[tuple[tuple[float, ...], int]]]:
    """Rows grouped by their exact part: each group's float vectors, with the row's index."""
    index = [relation.columns.index(name) for name in columns]
    member = relation.columns.index("batch_index") if "batch_index" in relation.columns else None
    groups: dict[Any, list[tuple[tuple[float, ...], int]]] = defaultdict(list)
    for row_number, row in enumerate(relation.rows):
        floats: list[float] = []
        exact = []
        for name, i in zip(columns, index, strict=True):
            if name in json_columns or (name == "raw_line" and member is not None and row[member] is not None):
                exact.append(_normal_json(row[i], floats))
            else:
                exact.append(_normal(row[i], floats, name in float_columns))
        groups[tuple(exact)].append((tuple(floats), row_number))
    return groups


def _vector_order(a: tuple[float, ...], b: tuple[float, ...]) -> int:
    """-1, 0 or 1: the first pair that is not equal within tolerance decides."""
    for x, y in zip(a, b, strict=True):
        if floats_equal(x, y):
            continue
        return -1 if _sort_key(x) < _sort_key(y) else 1
    return 0


def _match(
    left: list[tuple[tuple[float, ...], int]], right: list[tuple[tuple[float, ...], int]]
) -> tuple[list[int], list[int]]:
    """Pairs rows whose floats are equal within tolerance, as a multiset: the unmatched row indexes."""
    if not left or not right:
        return [i for _, i in left], [i for _, i in right]
    if not left[0][0]:
        # no floats: equal exact parts are equal rows, counted
        n = min(len(left), len(right))
        return [i for _, i in left[n:]], [i for _, i in right[n:]]
    order = lambda item: tuple(_sort_key(x) for x in item[0])  # noqa: E731
    left, right = sorted(left, key=order), sorted(right, key=order)
    rest_left, rest_right = [], []
    i = j = 0
    while i < len(left) and j < len(right):
        step = _vector_order(left[i][0], right[j][0])
        if step == 0:
            i, j = i + 1, j + 1
        elif step < 0:
            rest_left.append(left[i])
            i += 1
        else:
            rest_right.append(right[j])
            j += 1
    rest_left += left[i:]
    rest_right += right[j:]
    # the sorted pass can miss a pair whose first floats straddle another row's: try the rest pairwise
    if rest_left and rest_right and len(rest_left) * len(rest_right) <= GREEDY_LIMIT:
        unmatched_right = list(rest_right)
        still_left = []
        for vector, row in rest_left:
            partner = next(
                (k for k, (other, _) in enumerate(unmatched_right) if _vector_order(vector, other) == 0), None
            )
            if partner is None:
                still_left.append((vector, row))
            else:
                unmatched_right.pop(partner)
        rest_left, rest_right = still_left, unmatched_right
    return [row for _, row in rest_left], [row for _, row in rest_right]


def compare_relations(
    name: str,
    duckdb: Relation | None,
    spark: Relation | None,
    *,
    ignore: Iterable[str] = RUN_TIME_COLUMNS,
    examples: int = EXAMPLES,
) -> RelationParity:
    """One relation on both engines (None: the engine does not have it)."""
    if duckdb is None or spark is None:
        if duckdb is None and spark is None:
            raise ValueError(f"{name}: on neither side")
        present = spark if duckdb is None else duckdb
        status = MISSING_IN_DUCKDB if duckdb is None else MISSING_IN_SPARK
        rows = len(present.rows)  # type: ignore[union-attr]
        return RelationParity(
            name,
            status,
            duckdb_rows=None if duckdb is None else rows,
            spark_rows=None if spark is None else rows,
            error=present.error,  # type: ignore[union-attr]
        )
    for side, relation in (("duckdb", duckdb), ("spark", spark)):
        if relation.error is not None:
            return RelationParity(name, UNREADABLE, error=f"{side}: {relation.error}")
    ignore = {column.lower() for column in ignore}
    ignored = tuple(sorted(ignore & (set(duckdb.columns) | set(spark.columns))))
    left_columns = [column for column in duckdb.columns if column not in ignore]
    right_columns = {column for column in spark.columns if column not in ignore}
    shared = [column for column in left_columns if column in right_columns]
    json_columns = set(duckdb.json_columns | spark.json_columns)
    float_columns = _float_columns(duckdb, spark, shared)
    left_groups = _keyed_rows(duckdb, shared, json_columns, float_columns)
    right_groups = _keyed_rows(spark, shared, json_columns, float_columns)
    only_left: list[int] = []
    only_right: list[int] = []
    for key in sorted(left_groups.keys() | right_groups.keys(), key=_sort_key):
        rest_left, rest_right = _match(left_groups.get(key, []), right_groups.get(key, []))
        only_left += rest_left
        only_right += rest_right
    pairs, only_left, only_right = _pair(duckdb, spark, shared, json_columns, float_columns, only_left, only_right)
    differing_columns: dict[str, int] = defaultdict(int)
    for pair in pairs:
        for column in pair.differences:
            differing_columns[column] += 1
    result = RelationParity(
        name,
        EQUAL,
        duckdb_rows=len(duckdb.rows),
        spark_rows=len(spark.rows),
        only_in_duckdb=len(only_left) + len(pairs),
        only_in_spark=len(only_right) + len(pairs),
        columns_only_in_duckdb=tuple(column for column in left_columns if column not in right_columns),
        columns_only_in_spark=tuple(sorted(right_columns - set(left_columns))),
        ignored_columns=ignored,
        examples_only_in_duckdb=_examples(duckdb, shared, only_left, examples),
        examples_only_in_spark=_examples(spark, shared, only_right, examples),
        differing_columns=dict(sorted(differing_columns.items(), key=lambda item: (-item[1], item[0]))),
        examples_paired=pairs[:examples],
        json_columns=tuple(sorted(json_columns)),
    )
    if pairs or only_left or only_right or result.columns_only_in_duckdb or result.columns_only_in_spark:
        result.status = DIFFERS
    return result


# Rows of DuckDB's side paired at most (the rest stay unpaired), values too common to tell rows apart.
PAIR_LIMIT = 2_000
COMMON_VALUE = 64
CANDIDATES = 8
SAME_COLUMNS_SHOWN = 3


def _cell(relation: Relation, row: int, index: int, is_json: bool, is_float: bool) -> tuple[Any, tuple[float, ...]]:
    floats: list[float] = []
    value = relation.rows[row][index]
    exact = _normal_json(value, floats) if is_json else _normal(value, floats, is_float)
    return exact, tuple(floats)


def _pair(
    duckdb: Relation,
    spark: Relation,
    columns: Sequence[str],
    json_columns: set[str],
    float_columns: set[str],
    only_left: list[int],
    only_right: list[int],
) -> tuple[list[PairedRows], list[int], list[int]]:
    """Pairs each unmatched DuckDB row with the unmatched Spark row that shares most of its values
    (at least half of the columns), to say which columns differ: an index of the Spark rows by each
    column's value, values held by many rows left out. Returns the pairs and the rows left unpaired."""
    if not only_left or not only_right or not columns:
        return [], only_left, only_right
    left_index = [duckdb.columns.index(name) for name in columns]
    right_index = [spark.columns.index(name) for name in columns]
    kinds = [(name in json_columns, name in float_columns) for name in columns]
    index: list[dict[Any, list[int]]] = [defaultdict(list) for _ in columns]
    for row in only_right:
        for c, i in enumerate(right_index):
            index[c][_cell(spark, row, i, *kinds[c])].append(row)
    available = set(only_right)
    pairs, unpaired = [], []
    for row in only_left[:PAIR_LIMIT]:
        votes: dict[int, int] = defaultdict(int)
        cells = [_cell(duckdb, row, i, *kinds[c]) for c, i in enumerate(left_index)]
        for c, cell in enumerate(cells):
            candidates = index[c].get(cell, ())
            if len(candidates) <= COMMON_VALUE:
                for other in candidates:
                    if other in available:
                        votes[other] += 1
        # the rows sharing most of the telling values, then the one equal in most columns
        shortlist = sorted(votes, key=lambda other: (-votes[other], other))[:CANDIDATES]
        scored = [
            (
                sum(_cells_equal(cell, _cell(spark, other, right_index[c], *kinds[c])) for c, cell in enumerate(cells)),
                other,
            )
            for other in shortlist
        ]
        best_equal, best = max(scored, key=lambda item: (item[0], -item[1]), default=(0, None))
        if best is None or best_equal * 2 < len(columns):
            unpaired.append(row)
            continue
        available.discard(best)
        same, differences = {}, {}
        for c, name in enumerate(columns):
            theirs = _cell(spark, best, right_index[c], *kinds[c])
            if _cells_equal(cells[c], theirs):
                if len(same) < SAME_COLUMNS_SHOWN:
                    same[name] = duckdb.rows[row][left_index[c]]
            else:
                differences[name] = (duckdb.rows[row][left_index[c]], spark.rows[best][right_index[c]])
        pairs.append(PairedRows(same, differences))
    unpaired += only_left[PAIR_LIMIT:]
    return pairs, unpaired, [row for row in only_right if row in available]


def _cells_equal(a: tuple[Any, tuple[float, ...]], b: tuple[Any, tuple[float, ...]]) -> bool:
    return a[0] == b[0] and len(a[1]) == len(b[1]) and _vector_order(a[1], b[1]) == 0


def _examples(relation: Relation, columns: Sequence[str], rows: list[int], limit: int) -> list[dict[str, Any]]:
    index = [relation.columns.index(name) for name in columns]
    return [{name: relation.rows[r][i] for name, i in zip(columns, index, strict=True)} for r in rows[:limit]]


def compare(
    duckdb: Mapping[str, Relation],
    spark: Mapping[str, Relation],
    *,
    ignore: Iterable[str] = RUN_TIME_COLUMNS,
    examples: int = EXAMPLES,
) -> ParityResult:
    """Every relation either side has (sorted by name)."""
    ignore = frozenset(ignore)
    return ParityResult(
        [
            compare_relations(name, duckdb.get(name), spark.get(name), ignore=ignore, examples=examples)
            for name in sorted(duckdb.keys() | spark.keys())
        ]
    )


def compared(relation: str) -> bool:
    """Whether parity looks at a relation (schema.name, lower case)."""
    schema = relation.split(".", 1)[0]
    return schema in SCHEMAS or relation in EXTRA_RELATIONS


# ---------------------------------------------------------------------------------------------
# Reading the two warehouses


def read_duckdb(path: Path) -> dict[str, Relation]:
    """The compared relations of a DuckDB warehouse file (opened read-only)."""
    import duckdb

    if not path.is_file():
        raise ParityError(f"DuckDB warehouse {path} does not exist")
    relations = {}
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        listed = con.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_catalog = current_database() order by all"
        ).fetchall()
        for schema, table in listed:
            name = f"{schema}.{table}".lower()
            if not compared(name):
                continue
            json_columns = [
                row[0]
                for row in con.execute(
                    "select column_name from information_schema.columns"
                    " where table_catalog = current_database() and table_schema = ? and table_name = ?"
                    " and data_type = 'JSON'",
                    [schema, table],
                ).fetchall()
            ]
            try:
                arrow = con.sql(f'select * from "{schema}"."{table}"').to_arrow_table()
            except duckdb.Error as exc:
                relations[name] = Relation.unreadable(str(exc).splitlines()[0])
                continue
            relations[name] = Relation.from_arrow(arrow, json_columns)
    return relations


def spark_settings(spark_dir: Path, target: str = "spark") -> dict[str, str]:
    """The spark target's server_side_parameters (profiles/profiles.yml) as dbt renders them for
    this Spark folder ($EVENT_ANALYTICS_SPARK_DIR; the other variables from this environment)."""
    import jinja2
    import yaml

    root = project_dir()
    profile = yaml.safe_load((root / "dbt_project.yml").read_text())["profile"]
    output = yaml.safe_load((root / "profiles" / "profiles.yml").read_text())[profile]["outputs"][target]
    env = {**os.environ, SPARK_DIR_VARIABLE: str(spark_dir.resolve())}
    missing = object()

    def env_var(name: str, default: Any = missing) -> str:
        if name in env:
            return env[name]
        if default is missing:
            raise ParityError(f"profiles/profiles.yml: ${name} is not set")
        return str(default)

    jinja = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    jinja.globals["env_var"] = env_var
    jinja.filters["as_number"] = lambda value: value
    return {name: jinja.from_string(str(value)).render() for name, value in output["server_side_parameters"].items()}


def read_spark(spark_dir: Path, *, timeout: float = 900) -> dict[str, Relation]:
    """The compared relations of a Spark folder (the spark target's tables/ and metastore_db/), read by
    a child process; none when the folder has no metastore yet."""
    if not (spark_dir / "metastore_db").is_dir():
        return {}
    with tempfile.TemporaryDirectory(prefix="parity-spark-") as scratch:
        out = Path(scratch)
        code, tail = run_spark_child(
            "event_analytics.parity", ["dump-spark", str(spark_dir.resolve()), str(out)], out / "dump.log", timeout
        )
        if code != 0:
            raise ParityError(
                f"reading Spark folder {spark_dir} failed (exit {code}; its Derby metastore admits one JVM at a"
                f" time: is a dbt run on Spark still going?):\n{tail}"
            )
        manifest = json.loads((out / "manifest.json").read_text())
        relations = {}
        for entry in manifest:
            if entry.get("error"):
                relations[entry["name"]] = Relation.unreadable(entry["error"])
                continue
            with pa.memory_map(str(out / entry["file"])) as source:
                table = pa.ipc.open_file(source).read_all()
            relations[entry["name"]] = Relation.from_arrow(table, entry["json_columns"])
        return relations


def run_spark_child(module: str, arguments: list[str], log: Path, timeout: float) -> tuple[int, str]:
    """`python -m module arguments` in a child process, with a JVM of its own (Derby admits one at a
    time), its output in `log`: the exit code and the log's last lines. Raises
    subprocess.TimeoutExpired after `timeout` seconds."""
    with log.open("wb") as sink:
        code = subprocess.run(
            [sys.executable, "-m", module, *arguments],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=str(project_dir()),
            timeout=timeout,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        ).returncode
    return code, "\n".join(log.read_text(errors="replace").splitlines()[-15:])


def die_with_parent() -> None:
    """In the child, before it starts: Linux kills it when its parent dies. A killed run's child
    would otherwise go on using the Spark folder without the run's lock (its JVM ends with it)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def open_spark_session(spark_dir: Path, app_name: str) -> Any:
    """A session on a Spark folder's tables and metastore with the spark target's settings
    (spark_settings), in a process of its own: Derby admits one JVM at a time."""
    from pyspark.sql import SparkSession

    from event_analytics.spark_session import prepare_jvm_environment

    prepare_jvm_environment()
    builder = SparkSession.builder.enableHiveSupport().appName(app_name)
    for name, value in spark_settings(spark_dir).items():
        builder = builder.config(name, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def spark_tables(spark: Any, schemas: set[str]) -> Iterator[tuple[str, str]]:
    """(schema, table) of the Spark catalogue's tables in `schemas`, temporary views left out."""
    for schema in sorted(schemas):
        if not spark.catalog.databaseExists(schema):
            continue
        for table in spark.catalog.listTables(schema):
            if not table.isTemporary:
                yield schema, table.name


def dump_spark(spark_dir: Path, out: Path) -> None:
    """In the child process: each compared relation of the Spark warehouse to an Arrow file in `out`,
    listed in out/manifest.json."""
    from pyspark.sql import functions as F  # noqa: N812
    from pyspark.sql.types import VariantType

    spark = open_spark_session(spark_dir, "event-analytics parity")
    manifest = []
    try:
        schemas = {*SCHEMAS, *(relation.split(".", 1)[0] for relation in EXTRA_RELATIONS)}
        for schema, table_name in spark_tables(spark, schemas):
            name = f"{schema}.{table_name}".lower()
            if not compared(name):
                continue
            entry: dict[str, Any] = {"name": name, "file": f"{name}.arrow", "json_columns": []}
            try:
                frame = spark.table(f"`{schema}`.`{table_name}`")
                # VARIANT (parsed JSON) travels as its JSON text
                variants = [f.name for f in frame.schema.fields if isinstance(f.dataType, VariantType)]
                if variants:
                    frame = frame.select(
                        *(F.to_json(F.col(c)).alias(c) if c in variants else F.col(c) for c in frame.columns)
                    )
                entry["json_columns"] = variants
                arrow = frame.toArrow()
                with (
                    pa.OSFile(str(out / entry["file"]), "wb") as sink,
                    pa.ipc.new_file(sink, arrow.schema) as writer,
                ):
                    writer.write_table(arrow)
            except Exception as exc:  # noqa: BLE001 (a relation Spark cannot read is a finding)
                entry["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            manifest.append(entry)
    finally:
        spark.stop()
    (out / "manifest.json").write_text(json.dumps(manifest))


def compare_warehouses(
    duckdb_warehouse: Path,
    spark_dir: Path,
    *,
    ignore: Iterable[str] = RUN_TIME_COLUMNS,
    examples: int = EXAMPLES,
) -> ParityResult:
    """A DuckDB warehouse file against a Spark folder (spark/ beside the Spark run's --warehouse)."""
    return compare(read_duckdb(duckdb_warehouse), read_spark(spark_dir), ignore=ignore, examples=examples)


# ---------------------------------------------------------------------------------------------
# Building both, then comparing


@dataclass(frozen=True)
class Workdir:
    """Where `parity --landing` builds: each engine's run has a warehouse of its own (the pipeline's
    state, lock and logs live beside it), the Spark tables in spark/spark/ (pipeline.py's
    convention: spark/ beside the --warehouse)."""

    root: Path

    @property
    def duckdb_warehouse(self) -> Path:
        return self.root / "duckdb" / "events.duckdb"

    @property
    def spark_warehouse(self) -> Path:
        return self.root / "spark" / "events.duckdb"

    @property
    def spark_dir(self) -> Path:
        return self.spark_warehouse.parent / "spark"

    @property
    def key_file(self) -> Path:
        return self.root / "pii.key"


def pii_key(workdir: Workdir) -> str:
    """$EVENT_ANALYTICS_PII_KEY, else one kept in the work folder: both engines must hash with the
    same key, run after run."""
    key = os.environ.get(PII_KEY_VARIABLE)
    if key:
        return key
    if not workdir.key_file.is_file():
        workdir.root.mkdir(parents=True, exist_ok=True)
        workdir.key_file.write_text(secrets.token_hex(32))
        workdir.key_file.chmod(0o600)
    return workdir.key_file.read_text().strip()


def run_engines(
    landing: str | Path, workdir: Workdir, *, full_refresh: bool = False, timeout: float = 3600
) -> list[EngineRun]:
    """`event-analytics run --skip-validation` on DuckDB, then on Spark (one after the other: the
    machine's cores go to one engine at a time), each into its own warehouse of the work folder."""
    runs = []
    key = pii_key(workdir)
    for target, warehouse in (("duckdb", workdir.duckdb_warehouse), ("spark", workdir.spark_warehouse)):
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, PII_KEY_VARIABLE: key, SPARK_DIR_VARIABLE: str(workdir.spark_dir.resolve())}
        command = [
            sys.executable,
            "-c",
            "from event_analytics.cli import main; main()",
            "run",
            "--target",
            target,
            "--landing",
            str(landing),
            "--warehouse",
            str(warehouse),
            "--serving",
            str(warehouse.parent / "serving"),
            "--skip-validation",
        ]
        if full_refresh:
            command.append("--full-refresh")
        number = len(list(warehouse.parent.glob("parity-run-*.log"))) + 1
        log = warehouse.parent / f"parity-run-{number}.log"
        with log.open("wb") as sink:
            code = subprocess.run(
                command, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=str(project_dir()), timeout=timeout
            ).returncode
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
        # the CLI's own last word (`event-analytics: ...`), else the log's last line
        said = [line for line in lines if line.startswith("event-analytics:")] or lines or [""]
        runs.append(EngineRun(target, code, log, said[-1]))
    return runs


def build_and_compare(
    landing: str | Path,
    workdir: Workdir,
    *,
    full_refresh: bool = False,
    ignore: Iterable[str] = RUN_TIME_COLUMNS,
    examples: int = EXAMPLES,
) -> ParityResult:
    """Runs the pipeline on both engines over the landing folder, then compares their warehouses."""
    runs = run_engines(landing, workdir, full_refresh=full_refresh)
    duckdb_side = read_duckdb(workdir.duckdb_warehouse) if workdir.duckdb_warehouse.is_file() else {}
    result = compare(duckdb_side, read_spark(workdir.spark_dir), ignore=ignore, examples=examples)
    result.runs = runs
    return result


def _main(argv: Sequence[str]) -> int:
    if len(argv) == 3 and argv[0] == "dump-spark":
        dump_spark(Path(argv[1]), Path(argv[2]))
        return 0
    print("usage: python -m event_analytics.parity dump-spark SPARK_DIR OUT_DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
