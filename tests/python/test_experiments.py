"""Experiment assignment, conversion windows, exclusions and statistics against scipy.stats."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pytest
from scipy import stats

from conftest import build, message, query, write_lines

D1 = dt.datetime(2026, 10, 1, 10, 0, tzinfo=dt.UTC)


def at(days: float = 0, seconds: float = 0, ms: int = 0) -> str:
    moment = D1 + dt.timedelta(days=days, seconds=seconds, milliseconds=ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event(user: str, name: str, when: str, **properties: Any) -> dict[str, Any]:
    event.count += 1  # type: ignore[attr-defined]
    return message(
        f"{user}-{event.count}",
        when,
        user_id=user,
        event=name,  # type: ignore[attr-defined]
        properties=properties,
    )


event.count = 0  # type: ignore[attr-defined]


def exposure(user: str, variant: str, when: str, experiment: str = "exp1") -> dict[str, Any]:
    return event(user, "experiment_viewed", when, experiment_id=experiment, variant=variant)


HAND_MADE = [
    # x1: control, orders an hour after exposure; a coupon denied a minute after it.
    exposure("x1", "control", at(0)),
    event("x1", "order_completed", at(0, 3600)),
    event("x1", "coupon_denied", at(0, 60)),
    # x2: control, ordered before exposure and 14 days + 1 ms after: no conversion.
    exposure("x2", "control", at(0)),
    event("x2", "order_completed", at(0, -60)),
    event("x2", "order_completed", at(14, ms=1)),
    # x3: treatment, orders at the very instant of exposure; checkout failed the next day.
    exposure("x3", "treatment", at(0)),
    event("x3", "order_completed", at(0)),
    event("x3", "checkout_failed", at(1), reason="card_declined"),
    # x4: saw treatment, then control: excluded.
    exposure("x4", "treatment", at(0)),
    exposure("x4", "control", at(1)),
    event("x4", "order_completed", at(2)),
    event("x4", "coupon_denied", at(2)),
    # x5: treatment twice; orders exactly 14 days after the first exposure (inclusive).
    exposure("x5", "treatment", at(0)),
    exposure("x5", "treatment", at(2)),
    event("x5", "order_completed", at(14)),
    # ... and a coupon denied 15 days after it: outside the window.
    event("x5", "coupon_denied", at(15)),
    # x6: treatment, no order.
    exposure("x6", "treatment", at(0)),
]


def many(experiment: str, counts: dict[str, tuple[int, int]]) -> list[dict[str, Any]]:
    """Users per variant: (exposed, converted)."""
    lines = []
    for variant, (users, converters) in counts.items():
        for i in range(users):
            user = f"{experiment}-{variant}-{i}"
            lines.append(exposure(user, variant, at(0), experiment))
            if i < converters:
                lines.append(event(user, "order_completed", at(1)))
    return lines


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("experiments")
    write_lines(
        root / "landing" / "e.jsonl",
        HAND_MADE
        + many("big", {"control": (400, 52), "treatment": (380, 71)})
        + many("three", {"control": (60, 5), "b": (15, 4), "c": (10, 1)})
        + many("four", {"control": (10, 1), "b": (12, 2), "c": (9, 0), "d": (15, 3)})
        + many("tie", {"control": (10, 2), "treatment": (10, 2)}),
    )
    build(
        root / "landing",
        root / "w.duckdb",
        select="+experiment_results +experiment_guardrails",
        experiment_expected_split={"three": {"control": 0.5, "b": 0.3, "c": 0.2}},
        experiment_guardrail_events=["checkout_failed", "coupon_denied"],
    )
    return root / "w.duckdb"


def results(warehouse: Path, experiment: str) -> dict[str, dict[str, Any]]:
    columns = [
        "variant",
        "users",
        "converters",
        "conversion_rate",
        "absolute_lift",
        "relative_lift",
        "z_score",
        "p_value",
        "ci_low",
        "ci_high",
        "srm_p_value",
        "excluded_users",
    ]
    rows = query(
        warehouse, f"select {', '.join(columns)} from marts.experiment_results where experiment_id = '{experiment}'"
    )
    return {row[0]: dict(zip(columns, row, strict=True)) for row in rows}


def test_assignments(warehouse: Path) -> None:
    rows = query(
        warehouse,
        "select user_key, variant, exposed_at, converted, converted_at, is_excluded"
        " from marts.experiment_assignments where experiment_id = 'exp1' order by 1",
    )
    t = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00")).replace(tzinfo=None)  # noqa: E731
    assert rows == [
        ("x1", "control", t(at(0)), True, t(at(0, 3600)), False),
        ("x2", "control", t(at(0)), False, None, False),
        ("x3", "treatment", t(at(0)), True, t(at(0)), False),
        ("x4", "treatment", t(at(0)), True, t(at(2)), True),
        ("x5", "treatment", t(at(0)), True, t(at(14)), False),
        ("x6", "treatment", t(at(0)), False, None, False),
    ]


def reference(users: int, converters: int, control_users: int, control_converters: int) -> dict[str, float]:
    p_t, p_c = converters / users, control_converters / control_users
    pooled = (converters + control_converters) / (users + control_users)
    z = (p_t - p_c) / math.sqrt(pooled * (1 - pooled) * (1 / users + 1 / control_users))
    se = math.sqrt(p_t * (1 - p_t) / users + p_c * (1 - p_c) / control_users)
    q = stats.norm.ppf(0.975)
    return {
        "absolute_lift": p_t - p_c,
        "relative_lift": (p_t - p_c) / p_c,
        "z_score": z,
        "p_value": 2 * stats.norm.sf(abs(z)),
        "ci_low": p_t - p_c - q * se,
        "ci_high": p_t - p_c + q * se,
    }


@pytest.mark.parametrize(
    ("experiment", "treated", "counts"),
    [("exp1", "treatment", ((3, 2), (2, 1))), ("big", "treatment", ((380, 71), (400, 52)))],
)
def test_lift_and_z_test_agree_with_scipy(warehouse: Path, experiment: str, treated: str, counts: tuple) -> None:
    rows = results(warehouse, experiment)
    (users, converters), (control_users, control_converters) = counts
    assert (rows[treated]["users"], rows[treated]["converters"]) == (users, converters)
    assert (rows["control"]["users"], rows["control"]["converters"]) == (control_users, control_converters)
    for key, expected in reference(users, converters, control_users, control_converters).items():
        assert rows[treated][key] == pytest.approx(expected, abs=1e-6), key
    assert rows["control"]["z_score"] is None and rows["control"]["p_value"] is None


def test_exclusions(warehouse: Path) -> None:
    rows = results(warehouse, "exp1")
    assert {v: r["excluded_users"] for v, r in rows.items()} == {"control": 1, "treatment": 1}
    assert rows["control"]["conversion_rate"] == 0.5


def test_guardrails_are_rows_per_event(warehouse: Path) -> None:
    rows = query(
        warehouse,
        "select variant, guardrail_event, users_with_event, rate, absolute_difference, p_value "
        "from marts.experiment_guardrails where experiment_id = 'exp1' order by 1, 2",
    )

    # Users not excluded: control x1, x2; treatment x3, x5, x6 (x4 saw both variants).
    # checkout_failed: x3 only. coupon_denied: x1 only (x4 is excluded, x5's is after the window).
    def pooled_p(hits: int, users: int, control_hits: int, control_users: int) -> float:
        pooled = (hits + control_hits) / (users + control_users)
        z = (hits / users - control_hits / control_users) / math.sqrt(
            pooled * (1 - pooled) * (1 / users + 1 / control_users)
        )
        return 2 * stats.norm.sf(abs(z))

    assert rows == [
        ("control", "checkout_failed", 0, 0.0, None, None),
        ("control", "coupon_denied", 1, 0.5, None, None),
        (
            "treatment",
            "checkout_failed",
            1,
            pytest.approx(1 / 3),
            pytest.approx(1 / 3),
            pytest.approx(pooled_p(1, 3, 0, 2), abs=1e-6),
        ),
        ("treatment", "coupon_denied", 0, 0.0, -0.5, pytest.approx(pooled_p(0, 3, 1, 2), abs=1e-6)),
    ]
    # no guardrail event at all in an experiment: rates 0, no test
    assert query(
        warehouse,
        "select distinct users_with_event, rate, absolute_difference, p_value from marts.experiment_guardrails "
        "where experiment_id = 'big' and variant != 'control'",
    ) == [(0, 0.0, 0.0, None)]


@pytest.mark.parametrize(
    ("experiment", "observed", "expected_share"),
    [
        ("exp1", [2, 3], [0.5, 0.5]),
        ("big", [400, 380], [0.5, 0.5]),
        ("three", [60, 15, 10], [0.5, 0.3, 0.2]),  # a sample-ratio mismatch against the given split
        ("four", [10, 12, 9, 15], [0.25] * 4),
    ],
)
def test_srm_p_value_agrees_with_scipy(warehouse: Path, experiment: str, observed: list, expected_share: list) -> None:
    rows = results(warehouse, experiment)
    total = sum(observed)
    expected = stats.chisquare(observed, [total * s for s in expected_share]).pvalue
    assert len(rows) == len(observed)
    for row in rows.values():
        assert row["srm_p_value"] == pytest.approx(expected, abs=1e-6)
    if experiment == "three":
        assert expected < 0.01


def test_equal_rates_and_an_exact_split_give_p_values_of_exactly_one(warehouse: Path) -> None:
    # z = 0 and chi-square = 0: the erfc fit alone gives 1.00000003, which the range tests refuse
    rows = results(warehouse, "tie")
    assert rows["treatment"]["z_score"] == 0.0
    assert rows["treatment"]["p_value"] == 1.0
    assert rows["control"]["srm_p_value"] == rows["treatment"]["srm_p_value"] == 1.0
