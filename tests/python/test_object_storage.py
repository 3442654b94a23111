"""Landing files in S3, end to end: a local S3 server (moto's, on 127.0.0.1) holding Segment's and
RudderStack's storage layouts, read by the real pipeline through s3fs.

The endpoint and the (fake) credentials reach s3fs, in this process and in dbt's, only through the
SDK's usual environment variables, as they would in production.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import build, message, query
from event_analytics.ingest import plan_load
from event_analytics.project import project_vars

moto_server = pytest.importorskip("moto.server")
s3fs = pytest.importorskip("s3fs")
boto3 = pytest.importorskip("boto3")

BUCKET = "lake"
LANDING = f"s3://{BUCKET}/exports"

# Segment: segment-logs/<source-id>/<received-day, epoch ms>/<timestamp, epoch ms>.<id>.gz
SEGMENT = "segment-logs/SrcSeg01/1790812800000/1790856000000.a1b2c3d4.gz"
SEGMENT_2 = "segment-logs/SrcSeg01/1790899200000/1790902800000.e5f6a7b8.gz"
# RudderStack: rudder-logs/<source-id>/<date>/<ts>.<source-id>.<uuid>.json.gz
RUDDER = "rudder-logs/SrcRud01/10-01-2026/1790859600.SrcRud01.3f1c9a2e-7b4d-4c1e-9f0a-2d6e8b5c1a7f.json.gz"
# Listed but not read: a file no landing pattern matches, and names writers leave behind.
UNMATCHED = "segment-logs/SrcSeg01/manifest.csv"
IGNORED = (
    "segment-logs/SrcSeg01/_SUCCESS",
    "segment-logs/SrcSeg01/1790812800000/1790856000000.ffff0000.gz.tmp",
    "rudder-logs/SrcRud01/_temporary/0/1790859600.SrcRud01.part.json.gz",
    "rudder-logs/SrcRud01/",  # a folder marker, as the S3 console creates
)

SEGMENT_LINES: list[dict[str, Any] | str] = [
    message("s1", "2026-10-01T10:00:00Z", type="page", anonymous_id="anon-1"),
    message("s2", "2026-10-01T10:05:00Z", anonymous_id="anon-1"),
    "not json",
    message("dup", "2026-10-01T10:06:00Z", received_at="2026-10-01T10:06:05Z", anonymous_id="anon-1"),
]
RUDDER_LINES: list[dict[str, Any] | str] = [
    message("r1", "2026-10-01T11:00:00Z", received_at="2026-10-01T11:00:09Z", anonymous_id="anon-2"),
    # A later-received copy of Segment's `dup`: discarded, its text reread from S3.
    message("dup", "2026-10-01T10:06:00Z", received_at="2026-10-01T10:06:09Z", anonymous_id="anon-1"),
]
SEGMENT_2_LINES = [
    message("s3", "2026-10-02T09:00:00Z", anonymous_id="anon-1"),
    # An earlier-received copy of RudderStack's r1: it becomes the kept copy, and RUDDER's r1 the
    # discarded one, whose text cannot be reread once RUDDER has been overwritten.
    message("r1", "2026-10-01T11:00:00Z", received_at="2026-10-01T11:00:02Z", anonymous_id="anon-2"),
]
# RUDDER overwritten after it was loaded: none of it may load.
RUDDER_REWRITTEN = [message("r9", "2026-10-01T11:00:00Z", anonymous_id="anon-9")]


def text(lines: list[dict[str, Any] | str]) -> str:
    return "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)


def gz(lines: list[dict[str, Any] | str]) -> bytes:
    return gzip.compress(text(lines).encode(), mtime=0)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """A boto3 client of a fresh S3 server on 127.0.0.1; s3fs (here and in dbt's process) finds it
    through the environment."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://{host}:{port}")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("NO_PROXY", host)
    monkeypatch.setenv("no_proxy", host)
    # fsspec keeps filesystem instances per process: none may point at another (stopped) server.
    s3fs.S3FileSystem.clear_instance_cache()
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    try:
        yield client
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()


def put(client: Any, path: str, body: bytes) -> tuple[int, dt.datetime, str]:
    """Uploads below the landing prefix; the object's (size, LastModified as naive UTC, ETag)."""
    client.put_object(Bucket=BUCKET, Key=f"exports/{path}", Body=body)
    head = client.head_object(Bucket=BUCKET, Key=f"exports/{path}")
    modified = head["LastModified"].astimezone(dt.UTC).replace(tzinfo=None)
    assert head["ETag"].strip('"') == hashlib.md5(body).hexdigest()  # noqa: S324 - S3's ETag
    return head["ContentLength"], modified, hashlib.md5(body).hexdigest()  # noqa: S324


def ledger(warehouse: Path) -> list[tuple[Any, ...]]:
    return query(
        warehouse,
        "select path, size_bytes, modified_at, etag, lines, blank_lines from meta.landing_files order by path",
    )


def events(warehouse: Path) -> list[tuple[Any, ...]]:
    return query(
        warehouse,
        "select event_id, event_type, event_name, anonymous_id, source_file from marts.fct_events order by event_id",
    )


def duplicates(warehouse: Path) -> list[tuple[Any, ...]]:
    return query(
        warehouse, "select event_id, source_file, line_number, raw_line from quarantine.duplicate_events order by all"
    )


def test_s3_landing_end_to_end(s3: Any, workdir: Path) -> None:
    warehouse = workdir / "w.duckdb"
    segment = put(s3, SEGMENT, gz(SEGMENT_LINES))
    rudder = put(s3, RUDDER, gz(RUDDER_LINES))
    put(s3, UNMATCHED, b"source_id,file\nSrcSeg01,x\n")
    for path in IGNORED:
        put(s3, path, b"" if path.endswith(("_SUCCESS", "/")) else gz([message("hidden", "2026-10-01T12:00:00Z")]))
    # Outside the landing prefix (a sibling sharing its first letters): never listed.
    s3.put_object(Bucket=BUCKET, Key="exports-old/segment-logs/x.gz", Body=gz([message("old", "2026-10-01T12:00:00Z")]))

    # Run 1: both layouts load from S3; the rest is ignored or reported as unmatched.
    first = build(LANDING, warehouse)
    assert first.plan is not None
    assert [f.path for f in first.plan.files] == [RUDDER, SEGMENT]
    assert first.plan.unmatched == [UNMATCHED]
    assert first.plan.rejected == [] and first.plan.deferred == []
    assert events(warehouse) == [
        ("dup", "track", "product_viewed", "anon-1", SEGMENT),
        ("r1", "track", "product_viewed", "anon-2", RUDDER),
        ("s1", "page", "page_viewed", "anon-1", SEGMENT),
        ("s2", "track", "product_viewed", "anon-1", SEGMENT),
    ]
    assert query(warehouse, "select source_file, line_number, reason, raw_line from quarantine.rejected_events") == [
        (SEGMENT, 3, "invalid_json", "not json")
    ]
    assert duplicates(warehouse) == [("dup", RUDDER, 2, json.dumps(RUDDER_LINES[1]))]
    # lines: 2 + 4 = 6 read = 4 events + 1 duplicate + 1 rejected.
    assert ledger(warehouse) == [(RUDDER, *rudder, 2, 0), (SEGMENT, *segment, 4, 0)]
    assert query(warehouse, "select count(*) from quarantine.rejected_files") == [(0,)]

    # Nothing new in the bucket: nothing to load (planned as a run plans it, without running dbt).
    settings = project_vars({"landing_path": LANDING})
    idle = plan_load(LANDING, warehouse, settings)
    assert (idle.files, idle.rejected, idle.already_loaded, idle.loaded_before) == ([], [], 2, 2)

    # Run 2: one more object lands, and RUDDER is overwritten with other bytes. Only the new object
    # loads; RUDDER is rejected as changed_after_load and nothing of its new bytes loads; its r1,
    # now a discarded copy, has no text, since the object is no longer the one loaded.
    segment_2 = put(s3, SEGMENT_2, gz(SEGMENT_2_LINES))
    rewritten = put(s3, RUDDER, gz(RUDDER_REWRITTEN))
    assert rewritten[2] != rudder[2]
    second = build(LANDING, warehouse)
    assert second.plan is not None
    assert [f.path for f in second.plan.files] == [SEGMENT_2]
    assert second.plan.already_loaded == 1
    changes = [
        f"size {rudder[0]} -> {rewritten[0]} bytes" if rewritten[0] != rudder[0] else None,
        f"modified {rudder[1]:%Y-%m-%dT%H:%M:%S.%fZ} -> {rewritten[1]:%Y-%m-%dT%H:%M:%S.%fZ}"
        if rewritten[1] != rudder[1]
        else None,
        f"ETag {rudder[2]} -> {rewritten[2]}",
    ]
    detail = "; ".join(change for change in changes if change)
    assert query(warehouse, "select source_file, reason, size_bytes, detail from quarantine.rejected_files") == [
        (RUDDER, "changed_after_load", rewritten[0], detail)
    ]
    assert events(warehouse) == [
        ("dup", "track", "product_viewed", "anon-1", SEGMENT),
        ("r1", "track", "product_viewed", "anon-2", SEGMENT_2),
        ("s1", "page", "page_viewed", "anon-1", SEGMENT),
        ("s2", "track", "product_viewed", "anon-1", SEGMENT),
        ("s3", "track", "product_viewed", "anon-1", SEGMENT_2),
    ]
    assert duplicates(warehouse) == [
        ("dup", RUDDER, 2, json.dumps(RUDDER_LINES[1])),
        ("r1", RUDDER, 1, None),
    ]
    # The ledger keeps RUDDER as it was loaded. lines: 2 + 4 + 2 = 8 read = 5 events + 2
    # duplicates + 1 rejected.
    assert ledger(warehouse) == [(RUDDER, *rudder, 2, 0), (SEGMENT, *segment, 4, 0), (SEGMENT_2, *segment_2, 2, 0)]
    assert query(
        warehouse,
        "select (select count(*) from marts.fct_events), (select count(*) from quarantine.duplicate_events), "
        "(select count(*) from quarantine.rejected_events)",
    ) == [(5, 2, 1)]

    # The next run would load nothing and reject RUDDER again, until a person acts.
    again = plan_load(LANDING, warehouse, settings)
    assert (again.files, again.already_loaded) == ([], 2)
    assert [(r.path, r.reason, r.detail) for r in again.rejected] == [(RUDDER, "changed_after_load", detail)]
