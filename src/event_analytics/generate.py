"""Deterministic synthetic Segment-spec events, written as daily `YYYY-MM-DD.jsonl.gz` landing files.

The behaviour is drawn with numpy (one vectorised pass per step, no Python loop per event); DuckDB
turns the arrays into JSON lines and writes one gzip file per day of `receivedAt`. The same seed gives
the same bytes.

The model: users with one to three devices; each device browses anonymously until the session in
which its user signs up (first device) or logs in (other devices), then carries the userId. Sessions
are bursts of events seconds to minutes apart, spread over the user's weeks with hours or days
between them. A session opens with a page view (a third of them from a campaign), may walk the
e-commerce funnel product_viewed → product_added → checkout_started → order_completed with
drop-off at each step, and fills the rest with browsing. Users in the experiment see
`experiment_viewed` before the funnel; the treatment converts better at the last step and fails
checkout a little more often (the guardrail).

The messages take every shape senders use (Segment's spec, its HTTP API, RudderStack): all six call
types (a group call when a user of a company account signs up, an alias for the few users whose id
changed), batch envelopes, messages with only `originalTimestamp`, e-commerce spec names
("Order Completed") on some devices, identify traits under `context.traits`. These draw from a
random stream of their own, so that adding one redraws nothing of the behaviour above.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

# Event codes; the order is the order of the special events within a session.
SPECIALS = (
    "signup_started",
    "signup_completed",
    "user_identified",
    "user_aliased",
    "group_identified",
    "experiment_viewed",
    "product_viewed",
    "product_added",
    "checkout_started",
    "checkout_failed",
    "order_completed",
)
FILLERS = ("page_viewed", "search_performed", "scroll_depth_reached", "form_submitted", "screen_viewed")
FILLER_WEIGHTS = (0.5, 0.15, 0.2, 0.1, 0.05)
EVENT_NAMES = SPECIALS + FILLERS
FAULT_KINDS = (
    "duplicate",
    "late",
    "malformed",
    "missing_message_id",
    "missing_identity",
    "bad_timestamp",
    "email_in_text",
    "unplanned_event",
    "schema_violation",
)
EXPERIMENT_ID = "checkout_redesign"
# Faults that act on a whole line (cut it, send it twice, send it late): such messages go alone.
LINE_FAULTS = ("duplicate", "late", "malformed")
# The names devices following Segment's e-commerce spec v2 send (the plan's `source_names`).
# Their searches are the spec's own event, `Products Searched`, not search_performed.
SPEC_NAMES = {
    "product_viewed": "Product Viewed",
    "product_added": "Product Added",
    "checkout_started": "Checkout Started",
    "order_completed": "Order Completed",
    "search_performed": "Products Searched",
    # not drawn as such: a later form_submitted of a buyer becomes a refund (render_segment_lines.sql)
    "order_refunded": "Order Refunded",
}

# Shares of the message shapes; tests/python/test_generate.py measures each.
USERS_PER_GROUP = 20
GROUPED_SHARE = 0.7  # of users who sign up: they belong to a company account
SECOND_GROUP_SHARE = 0.05  # of grouped users: they belong to a second one too
# Drawn for 2.5% of users (among those who sign up); only those whose signup session (or the
# next) comes and is long enough send it: ~1% of users.
ALIAS_SHARE = 0.025
ALIAS_ANONYMOUS, ALIAS_LEGACY = 1, 2  # previousId: the signup device's anonymousId, an old userId
BATCHED_SESSION_SHARE = 0.16  # tuned so that ~3% of lines are batch envelopes
ORIGINAL_TIMESTAMP_SHARE = 0.02
SPEC_NAME_DEVICE_SHARE = 0.3
RUDDERSTACK_DEVICE_SHARE = 0.3
# Client clocks: most are right; originalTimestamp and sentAt carry the error, and Segment's
# receivedAt - (sentAt - originalTimestamp) removes it.
CLOCK_SKEWS_MS = (0, 37_000, -95_000, 3_600_000, -7_200_000)
CLOCK_SKEW_WEIGHTS = (0.8, 0.08, 0.06, 0.03, 0.03)

# Each device's browser, by share of devices (per mille): real user agent strings of the major
# browsers on desktop, phone and tablet, and crawlers. A crawler never signs up: it goes only to
# devices of users who never identify (the others take the first user agent instead). Picked from
# the device's number, so adding one draws nothing at random.
USER_AGENTS = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36",
        260,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87",
        60,
    ),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0", 40),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36",
        80,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Safari/605.1.15",
        70,
    ),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0", 10),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", 10),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1",
        170,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.6478.71 Mobile Safari/537.36",
        110,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
        50,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
        30,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148 [FBAN/FBIOS;FBAV/470.0.0.36.109;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.5]",
        20,
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36 Instagram 337.0.0.35.102 Android",
        15,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1",
        40,
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36",
        15,
    ),
    # crawlers
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 10),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) "
        "Chrome/116.0.1938.76 Safari/537.36",
        5,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.6478.126 "
        "Safari/537.36",
        5,
    ),
)
CRAWLERS = 3  # the last entries of USER_AGENTS


@dataclass(frozen=True)
class GenerateOptions:
    out: Path
    events: int = 100_000
    users: int | None = None
    days: int = 30
    start: dt.date = dt.date(2026, 10, 1)
    seed: int = 42
    faults: float = 0.0

    def user_count(self) -> int:
        return self.users if self.users is not None else max(1, self.events // 40)


Progress = Callable[[str, float], None]


def _noop_progress(stage: str, fraction: float) -> None:
    return None


def simulate(options: GenerateOptions) -> dict[str, np.ndarray]:
    """One row per message (before faults): numeric columns DuckDB turns into JSON."""
    rng = np.random.default_rng(options.seed)
    # The message shapes draw from a stream of their own: adding one redraws none of the behaviour.
    shapes = np.random.default_rng([options.seed, 1])
    n_events = options.events
    n_users = options.user_count()
    horizon = options.days * 86_400.0

    # Users: activity weight, first visit, whether they ever sign up, experiment arm.
    user_weight = rng.lognormal(0.0, 1.0, n_users)
    user_first_seen = rng.uniform(0.0, 0.85, n_users) * horizon
    user_identifies = rng.random(n_users) < 0.6
    user_arm = rng.choice(3, n_users, p=[0.3, 0.35, 0.35])  # 0 = not enrolled, 1 control, 2 treatment

    # Devices: 1-3 per user; the first is where the user signs up.
    devices_per_user = rng.choice([1, 2, 3], n_users, p=[0.6, 0.3, 0.1])
    device_user = np.repeat(np.arange(n_users), devices_per_user)
    device_rank = np.arange(len(device_user)) - np.repeat(
        np.cumsum(devices_per_user) - devices_per_user, devices_per_user
    )
    n_devices = len(device_user)
    device_weight = user_weight[device_user] * np.where(device_rank == 0, 1.0, 0.4)
    device_login_session = rng.geometric(0.45, n_devices) - 1  # 0-based ordinal of the login session

    # Sessions: lengths with a third of bounces; enough of them to hold exactly n_events events.
    mean_length = 0.35 * 1 + 0.65 * 9
    n_sessions_drawn = int(n_events / mean_length * 1.3) + 10
    session_length = np.where(rng.random(n_sessions_drawn) < 0.35, 1, 1 + rng.geometric(1 / 8, n_sessions_drawn))
    ends = np.cumsum(session_length)
    n_sessions = int(np.searchsorted(ends, n_events) + 1)
    session_length = session_length[:n_sessions].copy()
    session_length[-1] -= ends[n_sessions - 1] - n_events

    session_device = rng.choice(n_devices, n_sessions, p=device_weight / device_weight.sum())
    session_user = device_user[session_device]
    first_seen = user_first_seen[session_user]
    # Returning over weeks: later sessions thin out after the first visit.
    session_start = first_seen + rng.random(n_sessions) ** 1.6 * (horizon - first_seen)

    # The ordinal of each session on its device decides when the device logs in.
    order = np.lexsort((session_start, session_device))
    ordinal = np.empty(n_sessions, dtype=np.int64)
    sorted_devices = session_device[order]
    run_starts = np.r_[0, np.flatnonzero(np.diff(sorted_devices)) + 1]
    run_lengths = np.diff(np.r_[run_starts, n_sessions])
    ordinal[order] = np.arange(n_sessions) - np.repeat(run_starts, run_lengths)
    device_identifies = user_identifies[session_user]
    login_ordinal = device_login_session[session_device]
    is_login_session = device_identifies & (ordinal == login_ordinal)
    is_identified_session = device_identifies & (ordinal > login_ordinal)
    is_signup_session = is_login_session & (device_rank[session_device] == 0)
    # The first device's next session: where an old userId is aliased and a second group joined.
    is_followup_session = device_identifies & (ordinal == login_ordinal + 1) & (device_rank[session_device] == 0)
    arm = user_arm[session_user]
    groups = _draw_groups(shapes, user_identifies, max(1, n_users // USERS_PER_GROUP))
    user_alias = _draw_aliases(shapes, user_identifies)
    alias_kind = user_alias[session_user]
    # A group call at signup names the first group; the next session's names the second.
    session_group = np.where(is_signup_session, groups[session_user, 0], groups[session_user, 1])

    # Special events a session would emit, in order; a short session cuts the tail (drop-off).
    viewed = rng.random(n_sessions) < 0.55
    added = viewed & (rng.random(n_sessions) < 0.35)
    checkout = added & (rng.random(n_sessions) < 0.6)
    failed = checkout & (rng.random(n_sessions) < np.where(arm == 2, 0.08, 0.05))
    order_rate = np.where(arm == 2, 0.8, 0.65)
    ordered = checkout & (rng.random(n_sessions) < order_rate)
    wants = np.stack(
        [
            is_signup_session,
            is_signup_session,
            is_login_session,
            (is_signup_session & (alias_kind == ALIAS_ANONYMOUS))
            | (is_followup_session & (alias_kind == ALIAS_LEGACY)),
            (is_signup_session | is_followup_session) & (session_group >= 0),
            viewed & (arm > 0),
            viewed,
            added,
            checkout,
            failed,
            ordered,
        ],
        axis=1,
    )
    # Stable sort brings each session's wanted specials to the front, keeping their order.
    special_order = np.argsort(~wants, axis=1, kind="stable")
    special_codes = np.take_along_axis(np.broadcast_to(np.arange(len(SPECIALS)), wants.shape), special_order, 1)
    special_count = wants.sum(axis=1)

    # Events: position in session, gap to the previous event, name.
    event_session = np.repeat(np.arange(n_sessions), session_length)
    session_offset = np.cumsum(session_length) - session_length
    position = np.arange(n_events) - np.repeat(session_offset, session_length)
    gaps = np.clip(rng.exponential(50.0, n_events), 1.0, 20 * 60.0) + rng.random(n_events)
    gaps[position == 0] = 0.0
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[session_offset], session_length)
    occurred = session_start[event_session] + elapsed

    special_slot = position - 1
    is_special = (position >= 1) & (special_slot < special_count[event_session])
    filler = rng.choice(len(FILLERS), n_events, p=FILLER_WEIGHTS) + len(SPECIALS)
    code = np.where(position == 0, EVENT_NAMES.index("page_viewed"), filler)
    rows = np.flatnonzero(is_special)
    code[rows] = special_codes[event_session[rows], special_slot[rows]]

    # The userId appears from the identify call on (login session) and in every later session.
    identify_code = SPECIALS.index("user_identified")
    identify_position = np.where(
        is_login_session, np.argmax(special_codes == identify_code, axis=1) + 1, np.iinfo(np.int32).max
    )
    has_user_id = is_identified_session[event_session] | (
        is_login_session[event_session] & (position >= identify_position[event_session])
    )
    has_user_id |= code == EVENT_NAMES.index("user_aliased")  # an alias call names the new userId
    # A few server-side calls of identified users carry no anonymousId.
    has_anonymous_id = ~has_user_id | (rng.random(n_events) >= 0.02)

    received_delay = rng.exponential(0.4, n_events) + 0.05
    columns = {
        "seq": np.arange(n_events, dtype=np.int64),
        "event_code": code.astype(np.int16),
        "user_idx": session_user[event_session].astype(np.int64),
        "device_idx": session_device[event_session].astype(np.int64),
        "has_user_id": has_user_id,
        "has_anonymous_id": has_anonymous_id,
        "occurred_ms": np.round(occurred * 1000).astype(np.int64),
        "received_ms": np.round((occurred + received_delay) * 1000).astype(np.int64),
        "arm": arm[event_session].astype(np.int8),
        "is_session_start": position == 0,
        "campaign": np.where(position == 0, rng.choice(5, n_events, p=[0.66, 0.12, 0.1, 0.08, 0.04]), 0).astype(
            np.int8
        ),
        "rand_a": rng.integers(0, 1_000_000, n_events, dtype=np.int64),
        "rand_b": rng.integers(0, 1_000_000, n_events, dtype=np.int64),
        "utc_offset_hours": rng.choice([0, 0, 0, 0, 2, -5, 9], n_events).astype(np.int8),
        "fault": _draw_faults(rng, n_events, options.faults),
        "fault_delay_ms": rng.integers(60_000, 3 * 86_400_000, n_events, dtype=np.int64),
        "user_agent_idx": _user_agent_index(user_identifies[device_user])[session_device[event_session]],
    }
    columns.update(
        _message_shapes(
            shapes,
            columns,
            n_devices=n_devices,
            session_length=session_length,
            event_session=event_session,
            position=position,
            event_group=session_group[event_session],
            event_alias_kind=alias_kind[event_session],
        )
    )
    return columns


def _message_shapes(
    rng: np.random.Generator,
    columns: dict[str, np.ndarray],
    *,
    n_devices: int,
    session_length: np.ndarray,
    event_session: np.ndarray,
    position: np.ndarray,
    event_group: np.ndarray,
    event_alias_kind: np.ndarray,
) -> dict[str, np.ndarray]:
    """How each message is sent: the group a group call names, an alias call's kind, whether the
    userId is the old one of an aliased user, the device's SDK, the batch, originalTimestamp only.
    (received_ms is replaced: a batch's members share their envelope's.)"""
    code = columns["event_code"]
    alias_kind = np.where(code == EVENT_NAMES.index("user_aliased"), event_alias_kind, 0).astype(np.int8)
    line_fault = np.isin(columns["fault"], [1 + FAULT_KINDS.index(kind) for kind in LINE_FAULTS])
    batch_key = _batch_keys(rng, session_length, event_session, position, ~line_fault)
    return {
        "group_idx": np.where(code == EVENT_NAMES.index("group_identified"), event_group, -1).astype(np.int32),
        "alias_kind": alias_kind,
        "legacy_user_id": _before_legacy_alias(alias_kind == ALIAS_LEGACY, columns["user_idx"], columns["occurred_ms"]),
        **_device_styles(rng, n_devices, columns["device_idx"]),
        "batch_key": batch_key,
        "received_ms": _envelope_received_ms(rng, batch_key, columns["occurred_ms"], columns["received_ms"]),
        "original_only": _original_timestamp_only(rng, columns["fault"]),
    }


def _draw_groups(rng: np.random.Generator, signs_up: np.ndarray, n_groups: int) -> np.ndarray:
    """Per user its first and second group (-1: none): most users who sign up belong to one
    company account, a few to two; groups are of very different sizes, as companies are."""
    n_users = len(signs_up)
    size = rng.pareto(1.5, n_groups) + 1.0
    first = rng.choice(n_groups, n_users, p=size / size.sum())
    other = (first + 1 + rng.integers(0, max(1, n_groups - 1), n_users)) % n_groups
    grouped = signs_up & (rng.random(n_users) < GROUPED_SHARE)
    second = grouped & (rng.random(n_users) < SECOND_GROUP_SHARE) & (n_groups > 1)
    return np.stack([np.where(grouped, first, -1), np.where(second, other, -1)], axis=1)


def _draw_aliases(rng: np.random.Generator, signs_up: np.ndarray) -> np.ndarray:
    """Per user the kind of its alias call (0: none), half of each kind, only for users who sign
    up (an alias names the userId)."""
    aliased = signs_up & (rng.random(len(signs_up)) < ALIAS_SHARE / max(signs_up.mean(), 1e-9))
    kind = np.where(rng.random(len(signs_up)) < 0.5, ALIAS_ANONYMOUS, ALIAS_LEGACY)
    return np.where(aliased, kind, 0).astype(np.int8)


def _before_legacy_alias(is_legacy_alias: np.ndarray, event_user: np.ndarray, occurred_ms: np.ndarray) -> np.ndarray:
    """Whether a message precedes its user's alias of an old userId, and so carries that old id.
    A user whose alias session never came keeps the new id throughout."""
    alias_ms = np.full(event_user.max() + 1, np.iinfo(np.int64).min)
    alias_ms[event_user[is_legacy_alias]] = occurred_ms[is_legacy_alias]
    return occurred_ms < alias_ms[event_user]


def _user_agent_index(device_identifies: np.ndarray) -> np.ndarray:
    """Per device its entry of USER_AGENTS: by a hash of the device's number into the shares, a
    crawler's entry only for a device whose user never identifies."""
    weights = np.array([weight for _, weight in USER_AGENTS])
    slot = (np.arange(len(device_identifies), dtype=np.int64) * 2_654_435_761 + 12_345) % weights.sum()
    index = np.searchsorted(np.cumsum(weights), slot, side="right")
    is_crawler = index >= len(USER_AGENTS) - CRAWLERS
    return np.where(is_crawler & device_identifies, 0, index).astype(np.int16)


def _device_styles(rng: np.random.Generator, n_devices: int, device_idx: np.ndarray) -> dict[str, np.ndarray]:
    """Per message what its device's SDK does: e-commerce spec names, RudderStack's identify
    shape, and its clock's error."""
    spec_names = rng.random(n_devices) < SPEC_NAME_DEVICE_SHARE
    rudderstack = rng.random(n_devices) < RUDDERSTACK_DEVICE_SHARE
    skew = rng.choice(np.array(CLOCK_SKEWS_MS, dtype=np.int64), n_devices, p=CLOCK_SKEW_WEIGHTS)
    return {
        "spec_names": spec_names[device_idx],
        "rudderstack": rudderstack[device_idx],
        "clock_skew_ms": skew[device_idx],
    }


def _batch_keys(
    rng: np.random.Generator,
    session_length: np.ndarray,
    event_session: np.ndarray,
    position: np.ndarray,
    batchable: np.ndarray,
) -> np.ndarray:
    """Per message its batch (the index of the batch's first slot; -1: sent alone). A few sessions'
    devices queue messages and send them in batches of 2-20 consecutive ones, as mobile SDKs flush;
    a message with a line fault goes alone, and a batch left with one member is no batch."""
    n_sessions = len(session_length)
    batched = rng.random(n_sessions) < BATCHED_SESSION_SHARE
    size = rng.integers(2, 21, n_sessions)[event_session]
    session_offset = (np.cumsum(session_length) - session_length)[event_session]
    key = session_offset + position // size * size
    candidate = batched[event_session] & batchable
    members = np.bincount(key[candidate], minlength=len(key))
    return np.where(candidate & (members[key] >= 2), key, -1)


def _envelope_received_ms(
    rng: np.random.Generator, batch_key: np.ndarray, occurred_ms: np.ndarray, received_ms: np.ndarray
) -> np.ndarray:
    """A batch is sent seconds after its last member happened and received as one request: its
    members share the envelope's receivedAt."""
    in_batch = batch_key >= 0
    last = np.zeros(len(batch_key), dtype=np.int64)
    np.maximum.at(last, batch_key[in_batch], occurred_ms[in_batch])
    flush_ms = np.round((rng.exponential(8.0, len(batch_key)) + 0.1) * 1000).astype(np.int64)
    return np.where(in_batch, last[batch_key] + flush_ms[batch_key], received_ms)


def _original_timestamp_only(rng: np.random.Generator, fault: np.ndarray) -> np.ndarray:
    """Messages sent without `timestamp` (Segment computes it from originalTimestamp). Not those
    whose fault is a bad timestamp (their time would still be valid) or a second delivery."""
    excluded = np.isin(fault, [1 + FAULT_KINDS.index(kind) for kind in ("bad_timestamp", "duplicate")])
    return (rng.random(len(fault)) < ORIGINAL_TIMESTAMP_SHARE) & ~excluded


def _draw_faults(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    """0 = none, else 1 + index into FAULT_KINDS, each kind equally likely, `rate` in all."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError("--faults must be between 0 and 1")
    faulty = rng.random(n) < rate
    kinds = rng.integers(0, len(FAULT_KINDS), n) + 1
    return np.where(faulty, kinds, 0).astype(np.int8)


SQL_DIR = Path(__file__).with_name("sql")


def generate(options: GenerateOptions, progress: Progress = _noop_progress) -> list[Path]:
    """Write the landing files; returns their paths, oldest day first."""
    if options.events < 1:
        raise ValueError("--events must be at least 1")
    if options.days < 1:
        raise ValueError("--days must be at least 1")
    progress("simulating", 0.0)
    columns = simulate(options)
    progress("simulating", 1.0)
    options.out.mkdir(parents=True, exist_ok=True)
    spill = Path(tempfile.mkdtemp(prefix="event-analytics-generate-"))
    try:
        con = duckdb.connect(config={"temp_directory": str(spill), "preserve_insertion_order": True})
        con.execute("set TimeZone = 'UTC'")
        con.register("simulated", columns)
        render_sql, gather_batches_sql = (
            (SQL_DIR / "render_segment_lines.sql").read_text().split("-- @gather_batches\n")
        )
        con.execute(
            render_sql,
            {
                "seed": str(options.seed),
                "start": dt.datetime.combine(options.start, dt.time(), dt.UTC).replace(tzinfo=None),
                "event_names": list(EVENT_NAMES),
                "spec_names": [SPEC_NAMES.get(name) for name in EVENT_NAMES],
                "fault_kinds": list(FAULT_KINDS),
                "experiment_id": EXPERIMENT_ID,
                "user_agents": [user_agent for user_agent, _ in USER_AGENTS],
            },
        )
        con.unregister("simulated")
        del columns
        con.execute(gather_batches_sql)
        days = [row[0] for row in con.execute("select distinct day from lines order by day").fetchall()]
        written = []
        for index, day in enumerate(days):
            path = options.out / f"{day:%Y-%m-%d}.jsonl.gz"
            con.execute(
                f"""
                copy (select line from lines where day = $day order by received_ms, seq, copy)
                to '{_sql_string(str(path))}'
                (format csv, header false, quote '', escape '', delimiter '\x01', compression gzip)
                """,
                {"day": day},
            )
            written.append(path)
            progress("writing", (index + 1) / len(days))
        con.close()
        return written
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def _sql_string(value: str) -> str:
    return value.replace("'", "''")


def landing_has_event_files(folder: Path) -> bool:
    return folder.is_dir() and any(
        p.is_file() for pattern in ("**/*.jsonl", "**/*.jsonl.gz") for p in folder.glob(pattern)
    )
