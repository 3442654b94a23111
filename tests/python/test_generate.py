"""The synthetic event generator: deterministic, realistic in shape, faults as asked."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from event_analytics.generate import GenerateOptions, generate


def read_lines(folder: Path) -> dict[str, list[str]]:
    return {p.name: gzip.open(p, "rt").read().splitlines() for p in sorted(folder.glob("*.jsonl.gz"))}


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.jsonl.gz"))}


def parse(line: str) -> dict | None:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    generate(GenerateOptions(out=out, events=20_000, users=400, days=14, seed=3))
    return out


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    options = dict(events=3000, days=5, faults=0.05)
    generate(GenerateOptions(out=tmp_path / "a", seed=11, **options))
    generate(GenerateOptions(out=tmp_path / "b", seed=11, **options))
    generate(GenerateOptions(out=tmp_path / "c", seed=12, **options))
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_files_hold_the_messages_received_that_day(clean: Path) -> None:
    files = read_lines(clean)
    assert sum(len(lines) for lines in files.values()) == 20_000
    for name, lines in files.items():
        day = name.removesuffix(".jsonl.gz")
        assert {parse(line)["receivedAt"][:10] for line in lines} == {day}
    assert min(files) == "2026-10-01.jsonl.gz"


def test_behaviour_is_realistic(clean: Path) -> None:
    messages = [parse(line) for lines in read_lines(clean).values() for line in lines]
    names = Counter(m["event"] if m["type"] == "track" else m["type"] for m in messages)
    # The funnel drops off at every step.
    steps = [names[n] for n in ("product_viewed", "product_added", "checkout_started", "order_completed")]
    assert steps == sorted(steps, reverse=True) and steps[-1] > 0
    assert names["identify"] > 0 and names["page"] > names["product_viewed"]
    # Anonymous browsing, then identified traffic; users on several devices.
    devices_per_user = Counter()
    seen = set()
    for m in messages:
        if m.get("userId") and m.get("anonymousId") and (m["userId"], m["anonymousId"]) not in seen:
            seen.add((m["userId"], m["anonymousId"]))
            devices_per_user[m["userId"]] += 1
    assert max(devices_per_user.values()) >= 2
    assert any(m.get("userId") is None for m in messages)
    # Offsets other than Z appear, and mean the same instant as sentAt.
    offset = next(m for m in messages if not m["timestamp"].endswith("Z"))
    assert utc(offset["timestamp"]) == utc(offset["sentAt"])
    # The experiment: treatment converts better among exposed users.
    variants = {m["anonymousId"]: m["properties"]["variant"] for m in messages if m.get("event") == "experiment_viewed"}
    assert set(variants.values()) == {"control", "treatment"}
    ordered = {m["anonymousId"] for m in messages if m.get("event") == "order_completed"}
    rate = {
        arm: sum(d in ordered for d, v in variants.items() if v == arm) / sum(v == arm for v in variants.values())
        for arm in ("control", "treatment")
    }
    assert rate["treatment"] > rate["control"] * 1.05, rate


def test_sessions_are_bursts_with_long_gaps_between(clean: Path) -> None:
    by_device: dict[str, list[dt.datetime]] = {}
    for lines in read_lines(clean).values():
        for line in lines:
            m = parse(line)
            if m.get("anonymousId"):
                by_device.setdefault(m["anonymousId"], []).append(utc(m["timestamp"]))
    gaps = sorted(
        (b - a).total_seconds()
        for times in by_device.values()
        for a, b in zip(sorted(times), sorted(times)[1:], strict=False)
    )
    median = gaps[len(gaps) // 2]
    assert 5 <= median <= 600  # seconds to minutes within a session
    assert sum(g > 3600 for g in gaps) > len(by_device) / 4  # hours or days between sessions


def test_faults_at_the_asked_rate(tmp_path: Path) -> None:
    generate(GenerateOptions(out=tmp_path, events=20_000, days=10, faults=0.09, seed=5))
    lines = [line for day in read_lines(tmp_path).values() for line in day]
    parsed = [parse(line) for line in lines]
    malformed = sum(p is None for p in parsed)
    valid = [p for p in parsed if p is not None]
    missing_id = sum("messageId" not in p for p in valid)
    missing_identity = sum(not p.get("userId") and not p.get("anonymousId") for p in valid)
    bad_ts = sum(p["timestamp"][:4] not in {"2026"} or p["timestamp"].startswith("2026-02-30") for p in valid)
    ids = Counter(p["messageId"] for p in valid if "messageId" in p)
    duplicates = sum(n - 1 for n in ids.values())
    late = sum(
        (utc(p["receivedAt"]) - utc(p["timestamp"])).days >= 1 for p in valid if p["timestamp"].startswith("2026-1")
    )
    emails = sum("@example.com" in (p.get("properties") or {}).get("search_term", "") for p in valid)
    unplanned = sum(p.get("event") == "promo_banner_clicked" for p in valid)
    violating = sum(p.get("event") == "product_added" and "product_id" not in p["properties"] for p in valid)
    # Each of the 9 kinds gets ~1% of 20,000 messages; allow for sampling noise.
    counts = (malformed, missing_id, missing_identity, bad_ts, duplicates, unplanned, violating)
    assert all(140 <= count <= 260 for count in counts), counts
    assert late >= 140
    assert emails > 0
    assert len(lines) == 20_000 + duplicates


def test_rejects_impossible_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(GenerateOptions(out=tmp_path, events=10, faults=1.5))
    with pytest.raises(ValueError):
        generate(GenerateOptions(out=tmp_path, events=0))
