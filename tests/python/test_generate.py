"""The synthetic event generator: deterministic, realistic in shape, faults as asked."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from event_analytics.generate import SPEC_NAMES, GenerateOptions, generate, simulate
from event_analytics.plan import load_plan, plan_path

Message = dict[str, Any]
# The generator's own name for a name a spec-following device sends.
GENERATED_NAME = {spec: name for name, spec in SPEC_NAMES.items()}
ENVELOPE_FIELDS = ("context", "sentAt", "receivedAt")


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


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396, as staging merges a batch member over its envelope."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def messages_of(line: str) -> Iterator[Message]:
    """The messages a line holds: itself, or its batch's members merged over the envelope's
    fields (marked `_batch`, their index `_index`). A line that is not JSON holds none."""
    value = parse(line)
    if value is None:
        return
    if "batch" not in value:
        yield value
        return
    shared = {key: value[key] for key in ENVELOPE_FIELDS if key in value}
    for index, member in enumerate(value["batch"]):
        yield merge_patch(shared, member) | {"_batch": True, "_index": index}


def all_messages(folder: Path) -> list[Message]:
    return [m for lines in read_lines(folder).values() for line in lines for m in messages_of(line)]


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def event_time(m: Message) -> dt.datetime:
    """`timestamp`, else Segment's receivedAt - (sentAt - originalTimestamp)."""
    if "timestamp" in m:
        return utc(m["timestamp"])
    return utc(m["receivedAt"]) - (utc(m["sentAt"]) - utc(m["originalTimestamp"]))


def has_valid_time(m: Message) -> bool:
    try:
        event_time(m)
    except (KeyError, ValueError):
        return False
    return True


def name_of(m: Message) -> str:
    """The generator's event name (spec names mapped back), or the call type."""
    return GENERATED_NAME.get(m["event"], m["event"]) if m["type"] == "track" else m["type"]


def message_id(seed: int, seq: int) -> str:
    h = hashlib.md5(f"{seed}:message:{seq}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    generate(GenerateOptions(out=out, events=20_000, users=400, days=14, seed=3))
    return out


SAMPLE = GenerateOptions(out=Path("unused"), events=100_000, days=30, seed=5)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Message]]:
    """100,000 messages of 2,500 users, no faults: enough to measure the shapes' shares."""
    out = tmp_path_factory.mktemp("sample")
    generate(GenerateOptions(out=out, events=SAMPLE.events, days=SAMPLE.days, seed=SAMPLE.seed))
    return out, all_messages(out)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    options = dict(events=10_000, days=5, faults=0.05)
    generate(GenerateOptions(out=tmp_path / "a", seed=11, **options))
    generate(GenerateOptions(out=tmp_path / "b", seed=11, **options))
    generate(GenerateOptions(out=tmp_path / "c", seed=12, **options))
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")
    # the bytes compared hold every shape: the six call types, batches, originalTimestamp only
    messages = all_messages(tmp_path / "a")
    assert {m.get("type") for m in messages} >= {"track", "page", "screen", "identify", "group", "alias"}
    assert any(m.get("_batch") for m in messages)
    assert any("originalTimestamp" in m and "timestamp" not in m for m in messages)


def test_files_hold_the_messages_received_that_day(clean: Path) -> None:
    files = read_lines(clean)
    assert sum(len(list(messages_of(line))) for lines in files.values() for line in lines) == 20_000
    for name, lines in files.items():
        day = name.removesuffix(".jsonl.gz")
        # a batch's receivedAt is its envelope's
        assert {parse(line)["receivedAt"][:10] for line in lines} == {day}
    assert min(files) == "2026-10-01.jsonl.gz"


def test_behaviour_is_realistic(clean: Path) -> None:
    messages = all_messages(clean)
    names = Counter(name_of(m) for m in messages)
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
    # Offsets other than Z appear, and mean the same instant as a lone message's sentAt.
    offset = next(m for m in messages if not m.get("_batch") and not m.get("timestamp", "Z").endswith("Z"))
    assert utc(offset["timestamp"]) == utc(offset["sentAt"])
    # The experiment: treatment converts better among exposed users.
    variants = {
        m.get("anonymousId"): m["properties"]["variant"] for m in messages if m.get("event") == "experiment_viewed"
    }
    assert set(variants.values()) == {"control", "treatment"}
    ordered = {m.get("anonymousId") for m in messages if name_of(m) == "order_completed"}
    rate = {
        arm: sum(d in ordered for d, v in variants.items() if v == arm) / sum(v == arm for v in variants.values())
        for arm in ("control", "treatment")
    }
    assert rate["treatment"] > rate["control"] * 1.05, rate


def test_sessions_are_bursts_with_long_gaps_between(clean: Path) -> None:
    by_device: dict[str, list[dt.datetime]] = {}
    for m in all_messages(clean):
        if m.get("anonymousId"):
            by_device.setdefault(m["anonymousId"], []).append(event_time(m))
    gaps = sorted(
        (b - a).total_seconds()
        for times in by_device.values()
        for a, b in zip(sorted(times), sorted(times)[1:], strict=False)
    )
    median = gaps[len(gaps) // 2]
    assert 5 <= median <= 600  # seconds to minutes within a session
    assert sum(g > 3600 for g in gaps) > len(by_device) / 4  # hours or days between sessions


def test_group_calls_name_few_groups_once_per_member_at_signup(sample: tuple[Path, list[Message]]) -> None:
    _, messages = sample
    calls = [m for m in messages if m["type"] == "group"]
    groups_of: defaultdict[str, set[str]] = defaultdict(set)
    for m in calls:
        groups_of[m["userId"]].add(m["groupId"])
    n_users = SAMPLE.user_count()
    # a small number of groups, of very different sizes: about one per 20 users
    group_ids = {m["groupId"] for m in calls}
    assert n_users / 40 <= len(group_ids) <= n_users / 20
    sizes = Counter(m["groupId"] for m in calls).most_common()
    assert sizes[0][1] >= 5 * sizes[len(sizes) // 2][1]
    # members belong to one group mostly, a few to two; about one call per (user, group)
    two = sum(len(g) == 2 for g in groups_of.values())
    assert 0 < two <= 0.12 * len(groups_of) and max(len(g) for g in groups_of.values()) == 2
    assert len(calls) <= 1.1 * sum(len(g) for g in groups_of.values())
    # many users who sign up have a group (70% are given one; a short signup session cuts the call)
    identified = {m["userId"] for m in messages if m["type"] == "identify"}
    assert 0.35 <= len(groups_of) / len(identified) <= 0.75
    # the first group call comes in the session of the user's first identify, mostly (a session
    # cut short before the identify leaves a device logged in without one)
    first_identify = {}
    for m in sorted((m for m in messages if m["type"] == "identify"), key=event_time):
        first_identify.setdefault(m["userId"], event_time(m))
    first_call = {}
    for m in sorted(calls, key=event_time):
        first_call.setdefault(m["userId"], event_time(m))
    in_session = sum(
        u in first_identify and dt.timedelta(0) < t - first_identify[u] < dt.timedelta(hours=2)
        for u, t in first_call.items()
    )
    assert in_session >= 0.8 * len(first_call)
    # the spec's group traits, typed as the plan declares them
    for m in calls:
        traits = m["traits"]
        assert set(traits) == {"name", "industry", "employees", "plan", "website", "created_at"}
        assert isinstance(traits["employees"], int) and traits["website"].startswith("https://")
        assert utc(traits["created_at"]) < event_time(m)


def test_alias_previous_id_is_an_earlier_id_of_the_same_person(sample: tuple[Path, list[Message]]) -> None:
    _, messages = sample
    aliases = [m for m in messages if m["type"] == "alias"]
    # about 1% of users, of both kinds
    assert 0.005 * SAMPLE.user_count() <= len(aliases) <= 0.02 * SAMPLE.user_count()
    devices_of: defaultdict[str, set[str]] = defaultdict(set)
    seen: defaultdict[str, list[dt.datetime]] = defaultdict(list)  # when each id was sent
    for m in messages:
        if m.get("userId") and m.get("anonymousId"):
            devices_of[m["userId"]].add(m["anonymousId"])
        for key in ("anonymousId", "userId"):
            if m.get(key) and m["type"] != "alias":
                seen[m[key]].append(event_time(m))
    kinds = Counter()
    for alias in aliases:
        previous, new, at = alias["previousId"], alias["userId"], event_time(alias)
        assert previous != new and min(seen[previous]) < at, alias
        if previous in devices_of[new]:
            kinds["anonymousId"] += 1  # the device the user signed up on
        else:
            # an old userId of the same person (the generator numbers persons), used until the
            # alias and never after, when the new one takes over
            kinds["userId"] += 1
            assert previous.split("-")[1] == new.split("-")[1]
            assert max(seen[previous]) < at and all(at <= t for t in seen[new])
    assert kinds["anonymousId"] > 0 and kinds["userId"] > 0, kinds


def test_batch_envelopes_hold_messages_of_one_device(sample: tuple[Path, list[Message]]) -> None:
    folder, _ = sample
    lines = [line for day in read_lines(folder).values() for line in day]
    envelopes = [v for v in map(parse, lines) if "batch" in v]
    assert 0.02 <= len(envelopes) / len(lines) <= 0.04
    sizes = [len(e["batch"]) for e in envelopes]
    assert min(sizes) == 2 and max(sizes) == 20
    for envelope in envelopes:
        # the /v1/batch shape: the members, then the context and sentAt they share
        assert list(envelope) == ["batch", *ENVELOPE_FIELDS]
        assert set(envelope["context"]) == {"ip", "userAgent", "locale"}
        for member in envelope["batch"]:
            # members omit what the envelope gives, and hold no null that would erase it
            assert not {"sentAt", "receivedAt"} & set(member) and "ip" not in member["context"]
            assert None not in member.values() and None not in member["context"].values()
        devices = {m.get("anonymousId") for m in envelope["batch"]} - {None}
        users = {m.get("userId") for m in envelope["batch"]} - {None}
        assert len(devices) == 1 or (not devices and len(users) == 1)
        assert max(event_time(m) for m in messages_of(json.dumps(envelope))) <= utc(envelope["receivedAt"])


def test_original_timestamp_only_gives_the_event_time_as_segment_computes_it(
    sample: tuple[Path, list[Message]],
) -> None:
    _, messages = sample
    only = [m for m in messages if "timestamp" not in m]
    assert 0.015 <= len(only) / len(messages) <= 0.025
    assert all("originalTimestamp" in m and "sentAt" in m for m in only)
    simulated = simulate(SAMPLE)
    true_time = {
        message_id(SAMPLE.seed, seq): dt.datetime(2026, 10, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=int(ms))
        for seq, ms in zip(simulated["seq"], simulated["occurred_ms"], strict=True)
    }
    skewed = 0
    for m in only:
        computed = event_time(m)
        # the time it happened plus the network's latency, never after receivedAt
        assert dt.timedelta(0) <= computed - true_time[m["messageId"]] <= dt.timedelta(milliseconds=400)
        assert computed <= utc(m["receivedAt"])
        skewed += abs(utc(m["originalTimestamp"]) - computed) > dt.timedelta(seconds=30)
    # wrong client clocks, which only the computation corrects
    assert 0.1 <= skewed / len(only) <= 0.3
    assert any(m.get("_batch") for m in only) and not all(m.get("_batch") for m in only)


def test_spec_names_for_a_third_of_devices_with_spec_shaped_properties(sample: tuple[Path, list[Message]]) -> None:
    _, messages = sample
    source_names = {
        source: event
        for event, spec in load_plan(plan_path().read_text())["events"].items()
        for source in spec.get("source_names") or []
    }
    tracks = [m for m in messages if m["type"] == "track" and GENERATED_NAME.get(m["event"], m["event"]) in SPEC_NAMES]
    spelling: defaultdict[str, set[bool]] = defaultdict(set)
    for m in tracks:
        spelling[m["anonymousId"] if m.get("anonymousId") else m["userId"]].add(m["event"] in GENERATED_NAME)
        if m["event"] in GENERATED_NAME:
            assert m["event"] in source_names  # the plan maps every name sent
    spec_devices = [s for s in spelling.values() if s == {True}]
    assert 0.25 <= len(spec_devices) / len(spelling) <= 0.35
    # a device spells its events one way (userId-only messages may span devices)
    assert sum(len(s) == 2 for s in spelling.values()) <= 0.02 * len(spelling)
    orders = [m["properties"] for m in tracks if m["event"] == "Order Completed"]
    assert orders
    for order in orders:
        assert 1 <= len(order["products"]) <= 3
        for product in order["products"]:
            assert {"product_id", "sku", "price", "quantity"} <= set(product)
            assert isinstance(product["price"], float) and isinstance(product["quantity"], int)
        subtotal = sum(p["price"] * p["quantity"] for p in order["products"])
        assert order["revenue"] == pytest.approx(subtotal) and order["currency"] == "EUR"
    added = [m["properties"] for m in tracks if m["event"] == "Product Added"]
    assert all(isinstance(p["quantity"], int) and p["sku"].startswith("SKU-") for p in added)


def test_rudderstack_identifies_send_traits_under_context(sample: tuple[Path, list[Message]]) -> None:
    _, messages = sample
    identifies = [m for m in messages if m["type"] == "identify"]
    rudderstack = [m for m in identifies if "traits" not in m]
    assert 0.2 <= len(rudderstack) / len(identifies) <= 0.4
    assert all(set(m["context"]["traits"]) == {"email", "name"} for m in rudderstack)
    assert all("traits" not in m["context"] for m in identifies if "traits" in m)


def test_page_calls_have_name_and_category_screen_calls_a_name(sample: tuple[Path, list[Message]]) -> None:
    _, messages = sample
    pages = [m for m in messages if m["type"] == "page"]
    assert all(m["name"] and m["category"] for m in pages)
    assert len({m["name"] for m in pages}) >= 5
    assert all(m["name"] for m in messages if m["type"] == "screen")


def test_faults_at_the_asked_rate(tmp_path: Path) -> None:
    generate(GenerateOptions(out=tmp_path, events=20_000, days=10, faults=0.09, seed=5))
    lines = [line for day in read_lines(tmp_path).values() for line in day]
    malformed = sum(parse(line) is None for line in lines)
    valid = [m for line in lines for m in messages_of(line)]
    missing_id = sum("messageId" not in p for p in valid)
    missing_identity = sum(not p.get("userId") and not p.get("anonymousId") for p in valid)
    bad_ts = sum(
        "timestamp" in p and (p["timestamp"][:4] != "2026" or p["timestamp"][:10] == "2026-02-30") for p in valid
    )
    ids = Counter(p["messageId"] for p in valid if "messageId" in p)
    duplicates = sum(n - 1 for n in ids.values())
    late = sum((utc(p["receivedAt"]) - event_time(p)).days >= 1 for p in valid if has_valid_time(p))
    emails = sum(
        "@example.com" in (p.get("properties") or {}).get("search_term", (p.get("properties") or {}).get("query", ""))
        for p in valid
    )
    unplanned = sum(p.get("event") == "promo_banner_clicked" for p in valid)
    violating = sum(p.get("event") == "product_added" and "product_id" not in p["properties"] for p in valid)
    # Each of the 9 kinds gets ~1% of 20,000 messages; allow for sampling noise.
    counts = (malformed, missing_id, missing_identity, bad_ts, duplicates, unplanned, violating)
    assert all(140 <= count <= 260 for count in counts), counts
    assert late >= 140
    assert emails > 0
    assert len(valid) + malformed == 20_000 + duplicates
    # A fault of a whole line (a cut line, a second or late delivery) keeps its message out of a
    # batch; the others happen inside batches as outside.
    members = [p for p in valid if p.get("_batch")]
    assert all(ids[p["messageId"]] == 1 for p in members if "messageId" in p)
    assert all((utc(p["receivedAt"]) - event_time(p)).days < 1 for p in members if has_valid_time(p))
    assert sum("messageId" not in p for p in members) > 10
    assert sum(p.get("event") == "promo_banner_clicked" for p in members) > 10


def test_rejects_impossible_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(GenerateOptions(out=tmp_path, events=10, faults=1.5))
    with pytest.raises(ValueError):
        generate(GenerateOptions(out=tmp_path, events=0))
