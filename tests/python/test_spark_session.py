"""The Python parts of the Spark target that need no Spark: the merge patch batch members get on
Spark (DuckDB's json_merge_patch, RFC 7386), the Arrow-to-Spark types of the landing views, and the
run's choice of engine by profile target."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from event_analytics import spark_job
from event_analytics.ingest import STREAM_SCHEMA
from event_analytics.json_patch import merge_patch, merge_patch_text
from event_analytics.project import ConfigError
from event_analytics.spark_job import target_type
from event_analytics.spark_session import spark_type


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        # RFC 7386, appendix A (a selection): replace, add, delete by null, nested, non-object patch
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_follows_rfc_7386(target: object, patch: object, expected: object) -> None:
    assert merge_patch(target, patch) == expected


def test_a_batch_members_context_is_merged_over_its_envelopes() -> None:
    member = '{"type":"track","context":{"page":{"path":"/b"}},"properties":{"coupon":null}}'
    patch = '{"context":{"page":{"path":"/b"}},"sentAt":"2024-01-01T00:00:00Z"}'
    envelope_context = '{"page":{"url":"https://x/a","path":"/a"},"ip":"1.2.3.4"}'
    context = merge_patch_text(envelope_context, '{"page":{"path":"/b"}}')
    assert json.loads(context) == {"page": {"url": "https://x/a", "path": "/b"}, "ip": "1.2.3.4"}
    merged = json.loads(merge_patch_text(member, patch))
    # the member's own null stays: the patch only holds context, sentAt and receivedAt
    assert merged == {
        "type": "track",
        "context": {"page": {"path": "/b"}},
        "properties": {"coupon": None},
        "sentAt": "2024-01-01T00:00:00Z",
    }


@pytest.mark.parametrize(("target", "patch"), [(None, "{}"), ("{}", None), ("not json", "{}"), ("{}", "{")])
def test_merge_patch_text_gives_null_for_what_is_not_json(target: str | None, patch: str | None) -> None:
    # Spark runs a Python function on rows a CASE keeps from it too: they must not fail the statement
    assert merge_patch_text(target, patch) is None


def test_landing_columns_have_spark_types() -> None:
    assert [spark_type(field.type) for field in STREAM_SCHEMA] == [
        "string",
        "bigint",
        "string",
        "binary",
        "string",
        "bigint",
        "timestamp_ntz",
    ]
    with pytest.raises(TypeError):
        spark_type(pa.float64())


def test_the_engine_is_the_targets_adapter_type() -> None:
    assert target_type(None) == "duckdb"
    assert target_type("spark") == "spark"
    assert target_type("spark_thrift") == "spark"
    with pytest.raises(ConfigError, match="no target 'sprak'"):
        target_type("sprak")


def test_a_spark_run_without_the_extra_or_java_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = spark_job.importlib.util.find_spec
    monkeypatch.setattr(
        spark_job.importlib.util, "find_spec", lambda name: None if name == "pyspark" else real_find_spec(name)
    )
    with pytest.raises(ConfigError, match=r"pip install '\.\[spark\]'"):
        spark_job.check_spark_installed()
    monkeypatch.setattr(spark_job.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(spark_job.shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(ConfigError, match="Java 17"):
        spark_job.check_spark_installed()
    monkeypatch.setenv("JAVA_HOME", "/nonexistent/jvm")
    with pytest.raises(ConfigError, match="JAVA_HOME=/nonexistent/jvm has no bin/java"):
        spark_job.check_spark_installed()
