"""`event-analytics report`: one self-contained HTML file from the serving copy.

It reads only the serving folder (`analytics.duckdb`, opened read-only, and `manifest.json`), never
the working warehouse, and opens with no network: no script at all, styles inline, and every chart
an inline SVG drawn by matplotlib with its text as paths (so no font file either, and user data
such as a variant's name never reaches the SVG as markup). The page carries a Content-Security-Policy
that allows no script and no request. Text from the data goes through Jinja's autoescape.

Sections: headline numbers for the last PERIOD_DAYS days of data against the PERIOD_DAYS before
(relative to the latest day with an event, not to the clock), events / sessions / users per day,
sessions and revenue by channel group and sessions by device (`fct_sessions`, `revenue_daily`),
daily, weekly and monthly active users with stickiness (`active_users`), net revenue per day and
currency (`revenue_daily`), each funnel (users per step, conversion, median time between steps,
from `funnel_steps`), the cohort-retention heatmap, each experiment's conversion by variant with
Wilson 95% intervals and the sample-ratio-mismatch verdict, and the data-quality status that the
publish recorded in the manifest (`quality`).

A publish renders the report from the new copy before switching to it (serving.publish_locked):
a report that cannot be rendered fails the publish, and the serving copy stays as it was.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from markupsafe import Markup

REPORT_NAME = "report.html"
PERIOD_DAYS = 7
# A sample ratio mismatch is declared below this chi-square p-value: a strict threshold, as the
# check runs on every experiment on every publish (Kohavi et al., Trustworthy Online Controlled
# Experiments, recommend a conservative one such as 0.001).
SRM_ALPHA = 0.001
Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile
MAX_COHORTS = 40  # the heatmap shows the latest cohorts ...
MAX_OFFSETS = 40  # ... and their first offsets
ANNOTATED_CELLS = 600  # heatmap cells beyond which the rates are not written in the cells

BLUE = "#3867b5"
ORANGE = "#e07b39"
GREEN = "#4c9a6a"
GREY = "#8a8f98"
INK = "#2b2f36"


class NoServingCopy(Exception):
    """The serving folder holds no published copy."""


# ---------------------------------------------------------------------------------------------
# Reading the serving copy


@dataclass
class Headline:
    label: str
    current: float | None
    previous: float | None
    rate: bool = False  # a share (shown in %, change in percentage points) rather than a count
    note: str = ""

    @property
    def change(self) -> str:
        if self.current is None or self.previous is None:
            return "n/a"
        if self.rate:
            points = (self.current - self.previous) * 100
            return f"{points:+.1f} pp"
        if self.previous == 0:
            return "new" if self.current else "no change"
        return f"{(self.current - self.previous) / self.previous:+.1%}"

    @property
    def direction(self) -> str:
        if self.current is None or self.previous is None or self.current == self.previous:
            return "flat"
        return "up" if self.current > self.previous else "down"


@dataclass
class Step:
    index: int
    name: str
    users: int
    from_start: float | None
    from_previous: float | None
    median_seconds: float | None


@dataclass
class Funnel:
    name: str
    steps: list[Step]
    chart_id: str = ""
    svg: Markup | None = None


@dataclass
class Variant:
    name: str | None
    is_control: bool
    users: int
    converters: int
    rate: float | None
    low: float | None  # Wilson 95% interval of the rate
    high: float | None
    absolute_lift: float | None
    lift_low: float | None  # the mart's 95% interval of the difference to control
    lift_high: float | None
    relative_lift: float | None
    p_value: float | None
    # guardrail event -> (rate, difference to control, p-value)
    guardrails: dict[str, tuple[float | None, float | None, float | None]] = field(default_factory=dict)


@dataclass
class Experiment:
    name: str
    variants: list[Variant]
    srm_p_value: float | None
    excluded_users: int
    chart_id: str = ""
    svg: Markup | None = None

    @property
    def srm(self) -> str:
        """'mismatch', 'ok' or 'unknown'."""
        if self.srm_p_value is None or math.isnan(self.srm_p_value):
            return "unknown"
        return "mismatch" if self.srm_p_value < SRM_ALPHA else "ok"

    @property
    def guardrail_names(self) -> list[str]:
        return sorted({name for variant in self.variants for name in variant.guardrails})


@dataclass
class Retention:
    cohorts: list[tuple[dt.date, int]]  # (cohort period, cohort users) shown
    offsets: int
    rates: list[list[float | None]]  # [cohort][offset]
    grain: str
    hidden_cohorts: int = 0
    hidden_offsets: int = 0


@dataclass
class Period:
    start: dt.date
    end: dt.date
    previous_start: dt.date
    previous_end: dt.date
    first_day: dt.date

    @property
    def previous_partial(self) -> bool:
        return self.previous_start < self.first_day


@dataclass
class Channel:
    name: str
    sessions: int
    previous_sessions: int
    bounce_rate: float | None
    orders: int  # placed in the period from the channel's sessions
    net_revenue: dict[str, float]  # currency -> revenue less refunds in the period


@dataclass
class Device:
    name: str
    sessions: int
    share: float | None
    bounce_rate: float | None


@dataclass
class Revenue:
    currencies: list[str]
    daily: list[tuple[dt.date, str, int, float, float]]  # day, currency, orders, gross, net


@dataclass
class ReportData:
    tables: set[str]
    period: Period | None
    headlines: list[Headline]
    daily: list[tuple[dt.date, int, int, int]]  # day, events, sessions, users
    funnels: list[Funnel]
    retention: Retention | None
    experiments: list[Experiment]
    channels: list[Channel] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    active: list[tuple[dt.date, int, int, int]] = field(default_factory=list)  # day, DAU, WAU, MAU
    revenue: Revenue | None = None


def wilson(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson's score interval for a proportion (None without trials)."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def served_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        row[0] for row in con.execute("select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()
    }


def read_data(con: duckdb.DuckDBPyConnection) -> ReportData:
    tables = served_tables(con)
    period = read_period(con) if "fct_events" in tables else None
    return ReportData(
        tables=tables,
        period=period,
        headlines=read_headlines(con, tables, period) if period else [],
        daily=read_daily(con, tables, period) if period else [],
        funnels=read_funnels(con) if "funnel_steps" in tables else [],
        retention=read_retention(con) if "cohort_retention" in tables else None,
        experiments=read_experiments(con, "experiment_guardrails" in tables) if "experiment_results" in tables else [],
        channels=read_channels(con, tables, period) if period and "fct_sessions" in tables else [],
        devices=read_devices(con, period) if period and "fct_sessions" in tables else [],
        active=read_active(con) if "active_users" in tables else [],
        revenue=read_revenue(con) if "revenue_daily" in tables else None,
    )


def read_period(con: duckdb.DuckDBPyConnection) -> Period | None:
    first, last = con.execute(
        "select cast(min(occurred_at) as date), cast(max(occurred_at) as date) from marts.fct_events"
    ).fetchone()
    if last is None:
        return None
    start = last - dt.timedelta(days=PERIOD_DAYS - 1)
    return Period(start, last, start - dt.timedelta(days=PERIOD_DAYS), start - dt.timedelta(days=1), first)


def read_headlines(con: duckdb.DuckDBPyConnection, tables: set[str], period: Period) -> list[Headline]:
    dates = [period.start, period.end, period.previous_start, period.previous_end]
    events, previous_events, users, previous_users = con.execute(
        """
        with recent as (
            select cast(occurred_at as date) as day, user_key, is_bot from marts.fct_events
            where occurred_at >= cast($3 as date)
        )
        select
            count(*) filter (where day between $1 and $2),
            count(*) filter (where day between $3 and $4),
            count(distinct user_key) filter (where day between $1 and $2 and not coalesce(is_bot, false)),
            count(distinct user_key) filter (where day between $3 and $4 and not coalesce(is_bot, false))
        from recent
        """,
        dates,
    ).fetchone()
    headlines = [Headline("Events", events, previous_events)]
    if "fct_sessions" in tables:
        sessions, previous_sessions = con.execute(
            """
            select
                count(*) filter (where cast(started_at as date) between $1 and $2),
                count(*) filter (where cast(started_at as date) between $3 and $4)
            from marts.fct_sessions where started_at >= cast($3 as date)
            """,
            dates,
        ).fetchone()
        headlines.append(Headline("Sessions", sessions, previous_sessions))
    headlines.append(
        Headline("Active users", users, previous_users, note="distinct users with an event, bots left out")
    )
    if {"funnel_conversions", "funnel_steps"} <= tables:
        rows = con.execute(
            """
            with steps as (
                select funnel_name, max(step_index) as final_step from marts.funnel_steps group by funnel_name
            ),
            entered as (
                select c.funnel_name, cast(c.entered_at as date) as day, c.level = s.final_step as completed
                from marts.funnel_conversions as c inner join steps as s using (funnel_name)
                where c.entered_at >= cast($3 as date)
            )
            select
                funnel_name,
                count(*) filter (where completed and day between $1 and $2),
                count(*) filter (where day between $1 and $2),
                count(*) filter (where completed and day between $3 and $4),
                count(*) filter (where day between $3 and $4)
            from steps left join entered using (funnel_name)
            group by funnel_name order by funnel_name
            """,
            dates,
        ).fetchall()
        for name, completed, entered, previous_completed, previous_entered in rows:
            headlines.append(
                Headline(
                    f"{name} conversion",
                    completed / entered if entered else None,
                    previous_completed / previous_entered if previous_entered else None,
                    rate=True,
                    note=f"{completed:,} of {entered:,} who entered completed",
                )
            )
    if "active_users" in tables:
        # DAU/MAU on the period's last day against the previous period's last day
        stickiness = dict(
            con.execute(
                "select date_day, stickiness from marts.active_users where grain = 'month' and date_day in ($1, $2)",
                [period.end, period.previous_end],
            ).fetchall()
        )
        if stickiness:
            headlines.append(
                Headline(
                    "Stickiness (DAU/MAU)",
                    stickiness.get(period.end),
                    stickiness.get(period.previous_end),
                    rate=True,
                    note="on the last day of each period; bots never count",
                )
            )
    if "revenue_daily" in tables:
        rows = con.execute(
            """
            select
                currency,
                sum(orders) filter (where date_day between $1 and $2),
                sum(orders) filter (where date_day between $3 and $4),
                sum(revenue) filter (where date_day between $1 and $2),
                sum(revenue) filter (where date_day between $3 and $4)
            from marts.revenue_daily where date_day >= $3
            group by currency order by currency nulls last
            """,
            dates,
        ).fetchall()
        orders = sum(row[1] or 0 for row in rows), sum(row[2] or 0 for row in rows)
        if rows:
            headlines.append(Headline("Orders", orders[0], orders[1]))
        for currency, _, _, revenue, previous_revenue in rows:
            headlines.append(
                Headline(
                    f"Net revenue ({currency or 'no currency'})",
                    revenue or 0.0,
                    previous_revenue or 0.0,
                    note="orders less refunds, each on its day",
                )
            )
    return headlines


def read_daily(con: duckdb.DuckDBPyConnection, tables: set[str], period: Period) -> list[tuple[dt.date, int, int, int]]:
    sessions = (
        "select cast(started_at as date) as day, count(*) as sessions from marts.fct_sessions group by 1"
        if "fct_sessions" in tables
        else "select null::date as day, 0 as sessions where false"
    )
    return con.execute(
        f"""
        with days as (
            select cast(unnest(generate_series(cast($1 as date), cast($2 as date), interval 1 day)) as date) as day
        ),
        events as (
            select
                cast(occurred_at as date) as day,
                count(*) as events,
                count(distinct user_key) filter (where not coalesce(is_bot, false)) as users
            from marts.fct_events group by 1
        ),
        sessions as ({sessions})
        select day, coalesce(events, 0), coalesce(sessions, 0), coalesce(users, 0)
        from days left join events using (day) left join sessions using (day)
        order by day
        """,
        [period.first_day, period.end],
    ).fetchall()


def read_channels(con: duckdb.DuckDBPyConnection, tables: set[str], period: Period) -> list[Channel]:
    """Sessions by channel group in the period and the one before, with the period's orders and net
    revenue per currency (revenue_daily)."""
    dates = [period.start, period.end, period.previous_start, period.previous_end]
    sessions = con.execute(
        """
        select
            channel_group,
            count(*) filter (where cast(started_at as date) between $1 and $2),
            count(*) filter (where cast(started_at as date) between $3 and $4),
            avg(cast(is_bounce as integer)) filter (where cast(started_at as date) between $1 and $2)
        from marts.fct_sessions where started_at >= cast($3 as date)
        group by channel_group
        """,
        dates,
    ).fetchall()
    money: dict[str, tuple[int, dict[str, float]]] = {}
    if "revenue_daily" in tables:
        for channel, currency, orders, revenue in con.execute(
            "select channel_group, currency, sum(orders), sum(revenue) from marts.revenue_daily "
            "where date_day between $1 and $2 group by 1, 2 order by 1, 2 nulls last",
            dates[:2],
        ).fetchall():
            count, by_currency = money.get(channel, (0, {}))
            by_currency[currency or "no currency"] = revenue
            money[channel] = (count + int(orders), by_currency)
    channels = [
        Channel(name, current, previous, bounce, *money.get(name, (0, {})))
        for name, current, previous, bounce in sessions
    ]
    channels += [
        Channel(name, 0, 0, None, *value) for name, value in money.items() if name not in {c.name for c in channels}
    ]
    return sorted(
        (c for c in channels if c.sessions or c.previous_sessions or c.orders),
        key=lambda c: (-c.sessions, -c.previous_sessions, c.name),
    )


def read_devices(con: duckdb.DuckDBPyConnection, period: Period) -> list[Device]:
    rows = con.execute(
        """
        select coalesce(device_category, 'unknown'), count(*), avg(cast(is_bounce as integer))
        from marts.fct_sessions where cast(started_at as date) between $1 and $2
        group by 1 order by 2 desc, 1
        """,
        [period.start, period.end],
    ).fetchall()
    total = sum(sessions for _, sessions, _ in rows)
    return [Device(name, sessions, sessions / total if total else None, bounce) for name, sessions, bounce in rows]


def read_active(con: duckdb.DuckDBPyConnection) -> list[tuple[dt.date, int, int, int]]:
    return con.execute(
        """
        select
            date_day,
            max(active_users) filter (where grain = 'day'),
            max(active_users) filter (where grain = 'week'),
            max(active_users) filter (where grain = 'month')
        from marts.active_users group by date_day order by date_day
        """
    ).fetchall()


def read_revenue(con: duckdb.DuckDBPyConnection) -> Revenue | None:
    rows = con.execute(
        """
        select date_day, coalesce(currency, 'no currency'), sum(orders), sum(gross_revenue), sum(revenue)
        from marts.revenue_daily group by 1, 2 order by 2, 1
        """
    ).fetchall()
    if not rows:
        return None
    return Revenue(sorted({row[1] for row in rows}), [(d, c, int(o), g, n) for d, c, o, g, n in rows])


def read_funnels(con: duckdb.DuckDBPyConnection) -> list[Funnel]:
    rows = con.execute(
        """
        select funnel_name, step_index, step_name, users, conversion_from_start, conversion_from_previous,
            median_seconds_from_previous
        from marts.funnel_steps where breakdown_key is null
        order by funnel_name, step_index
        """
    ).fetchall()
    funnels: dict[str, Funnel] = {}
    for name, *step in rows:
        funnels.setdefault(name, Funnel(name, [])).steps.append(Step(*step))
    return list(funnels.values())


def read_retention(con: duckdb.DuckDBPyConnection) -> Retention | None:
    rows = con.execute(
        "select cohort_period, period_offset, cohort_users, retention_rate from marts.cohort_retention "
        "order by cohort_period, period_offset"
    ).fetchall()
    if not rows:
        return None
    sizes: dict[dt.date, int] = {}
    cells: dict[tuple[dt.date, int], float | None] = {}
    for cohort, offset, users, rate in rows:
        if offset == 0 or cohort not in sizes:
            sizes[cohort] = users
        cells[(cohort, offset)] = rate
    cohorts = sorted(sizes)
    offsets = max(offset for _, offset in cells) + 1
    shown = cohorts[-MAX_COHORTS:]
    shown_offsets = min(offsets, MAX_OFFSETS)
    return Retention(
        cohorts=[(cohort, sizes[cohort]) for cohort in shown],
        offsets=shown_offsets,
        rates=[[cells.get((cohort, offset)) for offset in range(shown_offsets)] for cohort in shown],
        grain=retention_grain(cohorts),
        hidden_cohorts=len(cohorts) - len(shown),
        hidden_offsets=offsets - shown_offsets,
    )


def retention_grain(cohorts: list[dt.date]) -> str:
    """day, week or month, from the spacing of the cohorts (the mart does not say)."""
    gaps = [(b - a).days for a, b in zip(cohorts, cohorts[1:], strict=False)]
    if not gaps:
        return "period"
    smallest = min(gaps)
    if smallest == 1:
        return "day"
    if smallest % 7 == 0:
        return "week"
    if smallest >= 28:
        return "month"
    return "period"


def read_experiments(con: duckdb.DuckDBPyConnection, guardrail_mart: bool) -> list[Experiment]:
    result = con.execute(
        "select * from marts.experiment_results order by experiment_id, is_control desc nulls last, variant"
    )
    columns = [d[0] for d in result.description]
    guardrails = [c for c in columns if c.startswith("guardrail_") and c.endswith("_rate")]
    experiments: dict[str, Experiment] = {}
    for values in result.fetchall():
        row = dict(zip(columns, values, strict=True))
        users, converters = row["users"] or 0, row["converters"] or 0
        interval = wilson(converters, users)
        variant = Variant(
            name=row["variant"],
            is_control=bool(row["is_control"]),
            users=users,
            converters=converters,
            rate=row["conversion_rate"],
            low=interval[0] if interval else None,
            high=interval[1] if interval else None,
            absolute_lift=row["absolute_lift"],
            lift_low=row["ci_low"],
            lift_high=row["ci_high"],
            relative_lift=row["relative_lift"],
            p_value=row["p_value"],
            # (older marts: a guardrail_<event>_rate column per event, without a test)
            guardrails={c.removeprefix("guardrail_").removesuffix("_rate"): (row[c], None, None) for c in guardrails},
        )
        experiment = experiments.setdefault(
            row["experiment_id"], Experiment(row["experiment_id"], [], row["srm_p_value"], row["excluded_users"] or 0)
        )
        experiment.variants.append(variant)
    if guardrail_mart:
        rows = con.execute(
            "select experiment_id, variant, guardrail_event, rate, absolute_difference, p_value "
            "from marts.experiment_guardrails order by guardrail_event"
        ).fetchall()
        for experiment_id, variant_name, event, rate, difference, p in rows:
            for variant in experiments[experiment_id].variants if experiment_id in experiments else []:
                if variant.name == variant_name:
                    variant.guardrails[event] = (rate, difference, p)
    return list(experiments.values())


# ---------------------------------------------------------------------------------------------
# Charts: matplotlib's object API (no pyplot, no global backend), SVG with text as paths


CHART_STYLE = {
    "svg.fonttype": "path",
    "svg.hashsalt": "event-analytics",  # stable ids from run to run
    "text.parse_math": False,  # a '$' in a name is a dollar sign, not mathtext
    "text.usetex": False,
    "font.family": "DejaVu Sans",  # shipped with matplotlib
    "font.size": 9,
    "axes.edgecolor": "#c9ced6",
    "axes.labelcolor": INK,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": "#59606b",
    "ytick.color": "#59606b",
    "axes.grid": True,
    "grid.color": "#eceef2",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
}


@contextmanager
def chart_style() -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context(CHART_STYLE):
        yield


def figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


SVG_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.S)
SVG_NOISE = re.compile(r"<!--.*?-->|<metadata>.*?</metadata>", re.S)
SVG_ID = re.compile(r'\bid="([^"]+)"')
SVG_REFERENCE = re.compile(r'(url\(#|href="#)([^)"]+)')


def svg_of(fig: Any, prefix: str) -> Markup:
    """The figure as an SVG element to inline: no XML prologue, comments (matplotlib writes each
    text there) or metadata, and its ids prefixed so that two charts' ids cannot clash."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = SVG_NOISE.sub("", SVG_PROLOGUE.sub("", buffer.getvalue(), count=1))
    text = SVG_ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = SVG_REFERENCE.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", text)
    return Markup(text.strip())  # matplotlib's own markup: every text in it is a path


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None or math.isnan(value) else f"{value * 100:.{digits}f}%"


def wrap(text: str, width: int = 18) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\n".join(lines)


def daily_chart(daily: list[tuple[dt.date, int, int, int]]) -> Markup:
    from matplotlib import dates as mdates

    fig = figure(10, 5.4)
    axes = fig.subplots(3, 1, sharex=True)
    days = [row[0] for row in daily]
    marker = "o" if len(days) <= 62 else None
    for ax, column, label, colour in zip(
        axes, (1, 2, 3), ("events", "sessions", "active users"), (BLUE, ORANGE, GREEN), strict=True
    ):
        values = [row[column] for row in daily]
        ax.plot(days, values, color=colour, linewidth=1.6, marker=marker, markersize=2.5)
        ax.fill_between(days, values, color=colour, alpha=0.12, linewidth=0)
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0, top=max(values + [1]) * 1.12)
        counts_axis(ax.yaxis)
    locator = mdates.AutoDateLocator(maxticks=12)
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    if len(days) == 1:
        axes[-1].set_xlim(days[0] - dt.timedelta(days=1), days[0] + dt.timedelta(days=1))
    return svg_of(fig, "daily")


def active_chart(active: list[tuple[dt.date, int, int, int]]) -> Markup:
    from matplotlib import dates as mdates

    fig = figure(10, 3.2)
    ax = fig.add_subplot()
    days = [row[0] for row in active]
    for column, label, colour in ((3, "monthly (28 days)", GREEN), (2, "weekly (7 days)", ORANGE), (1, "daily", BLUE)):
        ax.plot(days, [row[column] for row in active], color=colour, linewidth=1.6, label=label)
    ax.set_ylim(bottom=0, top=max([row[3] or 0 for row in active] + [1]) * 1.12)
    ax.set_ylabel("active users")
    counts_axis(ax.yaxis)
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    locator = mdates.AutoDateLocator(maxticks=12)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    if len(days) == 1:
        ax.set_xlim(days[0] - dt.timedelta(days=1), days[0] + dt.timedelta(days=1))
    return svg_of(fig, "active-users")


def channel_chart(channels: list[Channel]) -> Markup:
    fig = figure(9, 0.8 + 0.32 * len(channels))
    ax = fig.add_subplot()
    positions = list(range(len(channels)))[::-1]
    counts = [c.sessions for c in channels]
    top = max(counts + [1])
    ax.barh(positions, counts, color=BLUE, height=0.62)
    for position, count in zip(positions, counts, strict=True):
        ax.text(count + top * 0.01, position, f"{count:,}", va="center", fontsize=8, color=INK)
    ax.set_yticks(positions, [c.name for c in channels])
    ax.set_xlim(0, top * 1.12)
    counts_axis(ax.xaxis)
    ax.set_xlabel("sessions in the period")
    ax.grid(axis="y", visible=False)
    return svg_of(fig, "channels")


def revenue_chart(revenue: Revenue) -> Markup:
    from matplotlib import dates as mdates

    fig = figure(10, 1.0 + 2.0 * len(revenue.currencies))
    axes = fig.subplots(len(revenue.currencies), 1, sharex=True, squeeze=False)[:, 0]
    for ax, currency in zip(axes, revenue.currencies, strict=True):
        rows = [row for row in revenue.daily if row[1] == currency]
        days = [row[0] for row in rows]
        ax.bar(days, [row[3] for row in rows], color=GREEN, alpha=0.25, width=0.8, label="orders' revenue")
        ax.bar(days, [row[4] for row in rows], color=GREEN, width=0.5, label="net of refunds")
        ax.axhline(0, color=GREY, linewidth=0.8)
        ax.set_ylabel(currency)
        ax.legend(loc="upper left", frameon=False, fontsize=8)
    locator = mdates.AutoDateLocator(maxticks=12)
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    return svg_of(fig, "revenue")


def counts_axis(axis: Any) -> None:
    """Whole numbers, with thousands separators."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))


def funnel_chart(funnel: Funnel, prefix: str) -> Markup:
    steps = funnel.steps
    fig = figure(9.5, 3.6)
    ax = fig.add_subplot()
    positions = list(range(len(steps)))
    users = [step.users for step in steps]
    top = max(users + [1])
    ax.bar(positions, users, color=BLUE, width=0.62)
    # what did not go on: the previous step's users as a pale bar behind
    for position, step in zip(positions[1:], steps[1:], strict=True):
        ax.bar(position, steps[position - 1].users, color=BLUE, alpha=0.13, width=0.62, zorder=0)
        ax.text(
            position - 0.5,
            top * 1.02,
            f"→ {percent(step.from_previous)}\nmedian {duration(step.median_seconds)}",
            ha="center",
            va="bottom",
            fontsize=8,
            color="#59606b",
        )
    for position, step in zip(positions, steps, strict=True):
        ax.text(
            position,
            step.users + top * 0.015,
            f"{step.users:,}\n{percent(step.from_start)}",
            ha="center",
            va="bottom",
            fontsize=8.5,
            color=INK,
        )
    ax.set_xticks(positions, [wrap(f"{step.index}. {step.name}", 28) for step in steps])
    ax.set_ylim(0, top * 1.32)
    ax.set_ylabel("users")
    counts_axis(ax.yaxis)
    ax.grid(axis="x", visible=False)
    return svg_of(fig, prefix)


def retention_chart(retention: Retention) -> Markup:
    import numpy as np

    rows, columns = len(retention.cohorts), retention.offsets
    matrix = np.array([[np.nan if v is None else v for v in row] for row in retention.rates], dtype=float)
    fig = figure(min(11.0, max(6.0, 2.8 + 0.6 * columns)), 1.3 + 0.32 * rows)
    ax = fig.add_subplot()
    # cells as vector shapes (imshow would embed a PNG), row 0 on top
    image = ax.pcolormesh(
        np.arange(columns + 1) - 0.5,
        np.arange(rows + 1) - 0.5,
        np.ma.masked_invalid(matrix),
        cmap="Blues",
        vmin=0,
        vmax=1,
        edgecolors="white",
        linewidth=1,
    )
    ax.set_xlim(-0.5, columns - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if rows * columns <= ANNOTATED_CELLS:
        size = 7.5 if columns <= 16 else 6
        for r in range(rows):
            for c in range(columns):
                value = matrix[r, c]
                if not np.isnan(value):
                    ax.text(
                        c,
                        r,
                        f"{value * 100:.0f}%",
                        ha="center",
                        va="center",
                        fontsize=size,
                        color="white" if value > 0.55 else INK,
                    )
    ax.set_xticks(range(columns), [str(c) for c in range(columns)])
    ax.set_yticks(range(rows), [f"{cohort.isoformat()}  ({users:,})" for cohort, users in retention.cohorts])
    ax.tick_params(length=0)
    ax.xaxis.set_ticks_position("top")
    ax.xaxis.set_label_position("top")
    ax.set_xlabel(f"{retention.grain}s since the cohort's first {retention.grain}")
    ax.set_ylabel("cohort (users)")
    colorbar = fig.colorbar(image, ax=ax, shrink=0.9, pad=0.01, aspect=30)
    colorbar.ax.yaxis.set_major_formatter(percent_formatter())
    colorbar.outline.set_visible(False)
    colorbar.solids.set_rasterized(False)  # matplotlib rasterizes a long colour ramp: keep it vector
    colorbar.solids.set_edgecolor("face")  # no seams between its bands
    return svg_of(fig, "retention")


def percent_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: f"{value * 100:.0f}%")


def experiment_chart(experiment: Experiment, prefix: str) -> Markup:
    variants = experiment.variants
    fig = figure(9, 0.8 + 0.55 * len(variants))
    ax = fig.add_subplot()
    positions = list(range(len(variants)))[::-1]  # the first (control) on top
    highest = max([v.high or 0 for v in variants] + [0.01])
    for position, variant in zip(positions, variants, strict=True):
        colour = GREY if variant.is_control else ORANGE
        if variant.rate is None or variant.low is None or variant.high is None:
            continue
        ax.errorbar(
            variant.rate,
            position,
            xerr=[[variant.rate - variant.low], [variant.high - variant.rate]],
            fmt="o",
            color=colour,
            ecolor=colour,
            elinewidth=2.2,
            capsize=4,
            markersize=6,
        )
        ax.text(
            variant.high + highest * 0.02,
            position,
            f"{percent(variant.rate)}  [{percent(variant.low)}, {percent(variant.high)}]",
            va="center",
            fontsize=8,
            color=INK,
        )
    control = next((v for v in variants if v.is_control and v.rate is not None), None)
    if control is not None:
        ax.axvline(control.rate, color=GREY, linestyle=":", linewidth=1)
    ax.set_yticks(positions, [wrap(variant_label(v), 28) for v in variants])
    ax.set_ylim(-0.6, len(variants) - 0.4)
    ax.set_xlim(0, min(1.0, highest * 1.45) if highest < 0.69 else 1.0)
    ax.xaxis.set_major_formatter(percent_formatter())
    ax.set_xlabel("conversion (95% Wilson interval)")
    ax.grid(axis="y", visible=False)
    return svg_of(fig, prefix)


def variant_label(variant: Variant) -> str:
    name = "(none)" if variant.name is None else str(variant.name)
    return f"{name} (control)" if variant.is_control and name != "control" else name


def quarantine_chart(by_reason: dict[str, int]) -> Markup:
    reasons = sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))
    fig = figure(9, 0.7 + 0.32 * len(reasons))
    ax = fig.add_subplot()
    positions = list(range(len(reasons)))[::-1]
    counts = [count for _, count in reasons]
    ax.barh(positions, counts, color=ORANGE, height=0.62)
    top = max(counts + [1])
    for position, count in zip(positions, counts, strict=True):
        ax.text(count + top * 0.01, position, f"{count:,}", va="center", fontsize=8, color=INK)
    ax.set_yticks(positions, [reason for reason, _ in reasons])
    ax.set_xlim(0, top * 1.12)
    counts_axis(ax.xaxis)
    ax.set_xlabel("quarantined lines")
    ax.grid(axis="y", visible=False)
    return svg_of(fig, "quarantine")


def slug(name: Any, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", str(name)).strip("-") or "unnamed"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate


# ---------------------------------------------------------------------------------------------
# The page


def duration(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "–"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s"
    if seconds < 86400:
        hours, rest = divmod(round(seconds), 3600)
        return f"{hours} h {rest // 60} min"
    return f"{seconds / 86400:.1f} d"


def number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def money(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:,.2f}"


def p_value(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def lift(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value * 100:+.1f} pp"


def environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("event_analytics", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        percent=percent,
        duration=duration,
        number=number,
        money=money,
        p_value=p_value,
        lift=lift,
        variant=variant_label,
    )
    return env


def render_report(database: Path, manifest: dict[str, Any], now: dt.datetime | None = None) -> str:
    """The report's HTML, from a serving copy's database file and its manifest."""
    with duckdb.connect(str(database), read_only=True) as con:
        con.execute("set enable_progress_bar = false")
        data = read_data(con)
    taken: set[str] = set()
    charts: dict[str, Markup] = {}
    quality = manifest.get("quality") or {}
    quarantined = (quality.get("quarantined") or {}).get("by_reason") or {}
    with chart_style():
        if data.daily:
            charts["daily"] = daily_chart(data.daily)
        if data.channels:
            charts["channels"] = channel_chart(data.channels)
        if data.active:
            charts["active_users"] = active_chart(data.active)
        if data.revenue is not None:
            charts["revenue"] = revenue_chart(data.revenue)
        for funnel in data.funnels:
            funnel.chart_id = f"chart-funnel-{slug(funnel.name, taken)}"
            funnel.svg = funnel_chart(funnel, funnel.chart_id.removeprefix("chart-"))
        if data.retention is not None:
            charts["retention"] = retention_chart(data.retention)
        for experiment in data.experiments:
            experiment.chart_id = f"chart-experiment-{slug(experiment.name, taken)}"
            experiment.svg = experiment_chart(experiment, experiment.chart_id.removeprefix("chart-"))
        if quarantined:
            charts["quarantine"] = quarantine_chart(quarantined)
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            data=data,
            charts=charts,
            manifest=manifest,
            quality=quality,
            quarantined=sorted(quarantined.items(), key=lambda item: (-item[1], item[0])),
            rendered_at=(now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
            period_days=PERIOD_DAYS,
            srm_alpha=SRM_ALPHA,
            max_cohorts=MAX_COHORTS,
            max_offsets=MAX_OFFSETS,
        )
    )


def write_atomically(path: Path, text: str) -> None:
    fresh = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fresh.write_text(text, encoding="utf-8")
        os.replace(fresh, path)
    except BaseException:
        fresh.unlink(missing_ok=True)
        raise


def write_report(serving: Path, out: Path) -> Path:
    """Render the serving copy in `serving` to `out` (written under a temporary name, then renamed)."""
    from event_analytics.serving import DATABASE_NAME, last_published

    manifest = last_published(serving)
    database = serving / DATABASE_NAME
    if manifest is None or not database.is_file():
        raise NoServingCopy(f"no serving copy published in {serving}: run event-analytics run first")
    html = render_report(database, manifest)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, html)
    return out
