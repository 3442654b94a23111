"""The semantic layer: `mf query` over the serving copy gives the numbers the marts hold.

Each metric is computed a second way, in plain SQL over the published marts (experiment conversion
against experiment_results, which computes it independently), and compared group by group.
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from event_analytics.cli import app
from event_analytics.project import project_dir

runner = CliRunner()
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("semantic")
    landing, warehouse = root / "landing", root / "events.duckdb"
    generated = runner.invoke(app, ["generate", "--out", str(landing), "--events", "4000", "--faults", "0.01"])
    assert generated.exit_code == 0, generated.output
    ran = runner.invoke(app, ["run", "--landing", str(landing), "--warehouse", str(warehouse)])
    assert ran.exit_code == 0, ran.output
    serving = root / "serving"
    assert (serving / "analytics.duckdb").exists()
    parsed = subprocess.run(
        [BIN / "dbt", "parse", "--profiles-dir", "profiles", "--quiet"],
        cwd=project_dir(),
        env=mf_env(serving),
        capture_output=True,
        text=True,
    )
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr
    return serving


def mf_env(serving: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DBT_TARGET": "serving",
        "DBT_PROFILES_DIR": "profiles",
        "EVENT_ANALYTICS_SERVING_DIR": str(serving),
    }


def mf_query(serving: Path, tmp_path: Path, metrics: str, group_by: str) -> list[dict[str, str]]:
    out = tmp_path / f"{metrics.replace(',', '_')}.csv"
    done = subprocess.run(
        [BIN / "mf", "query", "--metrics", metrics, "--group-by", group_by, "--csv", str(out)],
        cwd=project_dir(),
        env=mf_env(serving),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and out.exists(), done.stdout + done.stderr
    with out.open() as f:
        return list(csv.DictReader(f))


def marts(serving: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(serving / "analytics.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def number(text: str) -> float | None:
    return float(text) if text not in ("", "None") else None


def same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9))


def test_events_users_and_sessions_per_day(serving: Path, tmp_path: Path) -> None:
    rows = mf_query(serving, tmp_path, "events,users,sessions", "metric_time__day")
    got = {r["metric_time__day"][:10]: (number(r["events"]), number(r["users"]), number(r["sessions"])) for r in rows}
    expected = {
        str(day): (events, users, sessions)
        for day, events, users, sessions in marts(
            serving,
            """
            with e as (
                select cast(occurred_at as date) as day, count(*) as events, count(distinct user_key) as users
                from marts.fct_events group by 1
            ),
            s as (select cast(started_at as date) as day, count(*) as sessions from marts.fct_sessions group by 1)
            select coalesce(e.day, s.day), e.events, e.users, s.sessions from e full join s on e.day = s.day
            """,
        )
    }
    assert len(expected) > 10
    assert got == expected


def test_bounce_rate_and_session_duration_per_week(serving: Path, tmp_path: Path) -> None:
    rows = mf_query(serving, tmp_path, "bounce_rate,average_session_duration_seconds", "metric_time__week")
    got = {
        r["metric_time__week"][:10]: (number(r["bounce_rate"]), number(r["average_session_duration_seconds"]))
        for r in rows
    }
    expected = {
        str(week): (bounce, duration)
        for week, bounce, duration in marts(
            serving,
            "select cast(date_trunc('week', started_at) as date), avg(cast(is_bounce as integer)), "
            "avg(duration_seconds) from marts.fct_sessions group by 1",
        )
    }
    assert got.keys() == expected.keys()
    for week, (bounce, duration) in expected.items():
        assert same(got[week][0], bounce) and same(got[week][1], duration), week


def test_orders_and_revenue_per_month_and_currency(serving: Path, tmp_path: Path) -> None:
    rows = mf_query(serving, tmp_path, "orders,revenue", "metric_time__month,order__currency")
    got = {
        (r["metric_time__month"][:10], r["order__currency"]): (number(r["orders"]), number(r["revenue"]))
        for r in rows
        if r["order__currency"]
    }
    expected = {
        (str(month), currency): (orders, revenue)
        for month, currency, orders, revenue in marts(
            serving,
            "select cast(date_trunc('month', occurred_at) as date), currency, count(*), sum(revenue) "
            "from marts.orders where currency is not null group by 1, 2",
        )
    }
    assert expected
    assert got.keys() == expected.keys()
    for key, (orders, revenue) in expected.items():
        assert got[key][0] == orders and same(got[key][1], revenue), key


def test_net_revenue_per_day_and_currency_nets_refunds(serving: Path, tmp_path: Path) -> None:
    rows = mf_query(serving, tmp_path, "net_revenue", "metric_time__day,revenue_day__currency")
    got = {(r["metric_time__day"][:10], r["revenue_day__currency"]): number(r["net_revenue"]) for r in rows}
    expected = {
        (str(day), currency): revenue
        for day, currency, revenue in marts(
            serving, "select date_day, currency, sum(revenue) from marts.revenue_daily group by 1, 2"
        )
    }
    assert len(expected) > 5
    assert got.keys() == expected.keys()
    for key, revenue in expected.items():
        assert same(got[key], revenue), key


def test_sessions_by_channel_and_device(serving: Path, tmp_path: Path) -> None:
    rows = mf_query(serving, tmp_path, "sessions", "session__channel_group,session__device_category")
    got = {(r["session__channel_group"], r["session__device_category"]): number(r["sessions"]) for r in rows}
    expected = {
        (channel, device): sessions
        for channel, device, sessions in marts(
            serving, "select channel_group, device_category, count(*) from marts.fct_sessions group by 1, 2"
        )
    }
    assert {"Direct", "Organic Search", "Paid Search", "Email"} <= {channel for channel, _ in expected}
    assert {"desktop", "mobile", "tablet"} <= {device for _, device in expected}
    assert got == expected


def test_daily_and_monthly_active_users(serving: Path, tmp_path: Path) -> None:
    rows = mf_query(serving, tmp_path, "daily_active_users,monthly_active_users", "metric_time__day")
    got = {
        r["metric_time__day"][:10]: (number(r["daily_active_users"]), number(r["monthly_active_users"])) for r in rows
    }
    expected = {
        str(day): (dau, mau)
        for day, dau, mau in marts(
            serving,
            "select date_day, max(active_users) filter (where grain = 'day'), "
            "max(active_users) filter (where grain = 'month') from marts.active_users group by 1",
        )
    }
    assert len(expected) > 10
    assert got == expected


def test_funnel_conversion_per_funnel(serving: Path, tmp_path: Path) -> None:
    rows = mf_query(serving, tmp_path, "funnel_conversion", "funnel_entry__funnel_name")
    got = {r["funnel_entry__funnel_name"]: number(r["funnel_conversion"]) for r in rows}
    # The funnel's last step in funnel_steps: users who reached it over users at step 1
    expected = dict(
        marts(
            serving,
            "select funnel_name, arg_max(conversion_from_start, step_index) from marts.funnel_steps "
            "where breakdown_key is null group by 1",
        )
    )
    assert set(expected) == {"checkout", "signup"}
    assert got.keys() == expected.keys()
    for funnel, rate in expected.items():
        assert same(got[funnel], rate), funnel


def test_week_1_retention_per_cohort(serving: Path, tmp_path: Path) -> None:
    rows = mf_query(serving, tmp_path, "week_1_retention", "metric_time__week")
    got = {r["metric_time__week"][:10]: number(r["week_1_retention"]) for r in rows}
    expected = {
        str(cohort): rate
        for cohort, rate in marts(
            serving,
            "select cohort_period, max(case when period_offset = 1 then retention_rate end) "
            "from marts.cohort_retention group by 1",
        )
    }
    assert any(rate is not None for rate in expected.values())
    assert got.keys() == expected.keys()
    for cohort, rate in expected.items():
        assert same(got[cohort], rate), cohort


def test_experiment_conversion_matches_experiment_results(serving: Path, tmp_path: Path) -> None:
    rows = mf_query(
        serving,
        tmp_path,
        "experiment_conversion",
        "experiment_assignment__experiment_id,experiment_assignment__variant",
    )
    got = {
        (r["experiment_assignment__experiment_id"], r["experiment_assignment__variant"]): number(
            r["experiment_conversion"]
        )
        for r in rows
    }
    expected = {
        (experiment, variant): rate
        for experiment, variant, rate in marts(
            serving, "select experiment_id, variant, conversion_rate from marts.experiment_results"
        )
    }
    assert len(expected) >= 2
    assert got.keys() == expected.keys()
    for key, rate in expected.items():
        assert same(got[key], rate), key


def test_event_metrics_by_the_sessions_channel(serving: Path, tmp_path: Path) -> None:
    rows = mf_query(serving, tmp_path, "events", "session__utm_source")
    got = {r["session__utm_source"] or None: number(r["events"]) for r in rows}
    expected = dict(
        marts(
            serving,
            "select s.utm_source, count(*) from marts.fct_events e "
            "left join marts.fct_sessions s on e.session_id = s.session_id group by 1",
        )
    )
    assert len(expected) > 2
    assert got == expected


def test_dim_dates_spans_the_data_and_a_year_ahead(serving: Path) -> None:
    [(first, last, days, distinct_days)] = marts(
        serving, "select min(date_day), max(date_day), count(*), count(distinct date_day) from marts.dim_dates"
    )
    [(first_event, last_event)] = marts(
        serving, "select min(cast(occurred_at as date)), max(cast(occurred_at as date)) from marts.fct_events"
    )
    assert first == first_event
    assert last == last_event.replace(year=last_event.year + 1)
    assert days == distinct_days == (last - first).days + 1
    # Worked out on a calendar: 2027-01-01 is a Friday in ISO week 53 of 2026, whose Monday is
    # 2026-12-28; 2027-01-03 is a Sunday; 2027-01-04 starts ISO week 1 of 2027.
    rows = marts(
        serving,
        "select date_day::varchar, week_start::varchar, month_start::varchar, quarter_start::varchar, year, quarter, "
        "month, iso_year, iso_week, day_of_week, is_weekend from marts.dim_dates "
        "where date_day in ('2026-12-28', '2027-01-01', '2027-01-03', '2027-01-04') order by 1",
    )
    assert rows == [
        ("2026-12-28", "2026-12-28", "2026-12-01", "2026-10-01", 2026, 4, 12, 2026, 53, 1, False),
        ("2027-01-01", "2026-12-28", "2027-01-01", "2027-01-01", 2027, 1, 1, 2026, 53, 5, False),
        ("2027-01-03", "2026-12-28", "2027-01-01", "2027-01-01", 2027, 1, 1, 2026, 53, 7, True),
        ("2027-01-04", "2027-01-04", "2027-01-01", "2027-01-01", 2027, 1, 1, 2027, 1, 1, False),
    ]
