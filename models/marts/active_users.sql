{#-
  Active users over trailing windows: per UTC day from the first to the last day with activity
  (int_activity__user_days: var active_user_events, bots left out) and per grain, the users active
  on at least one of the window_days days ending that day (day 1: DAU, week 7: WAU, month 28:
  MAU). Windows at the start of the data are short of history.
  A user's active days make runs of days less than N apart; a run from day a to day b keeps the
  user active over [a, b + N - 1]. Each such span adds 1 on its first day and takes it away the
  day after its last, and a running sum gives each day's count: no day is joined to every day of
  its window.
-#}

{%- set windows = active_user_windows() %}

with

user_days as (
    select
        user_key,
        activity_date
    from {{ ref('int_activity__user_days') }}
),

data_span as (
    select
        min(activity_date) as first_day,
        max(activity_date) as last_day
    from user_days
),

days as (
    {{ date_range('(select first_day from data_span)', '(select last_day from data_span)', 'date_day') }}
),

windows as (
    {%- for grain, window_days in windows.items() %}
        select
            '{{ grain }}' as grain,
            {{ window_days }} as window_days
        {{ 'union all' if not loop.last }}
    {%- endfor %}
),

previous_active_days as (
    select
        user_key,
        activity_date,
        lag(activity_date) over (partition by user_key order by activity_date) as previous_date
    from user_days
),

-- a day starts a run when there is no earlier active day or the last one is more than N days before
-- it (a gap of exactly N: the earlier span ends the day before, so they join)
run_starts as (
    select
        previous_active_days.user_key,
        previous_active_days.activity_date,
        windows.grain,
        windows.window_days,
        case
            when previous_active_days.previous_date is null then 1
            when
                {{ time_diff('previous_active_days.previous_date', 'previous_active_days.activity_date', 'day') }}
                > windows.window_days
                then 1
            else 0
        end as starts_run
    from previous_active_days
    cross join windows
),

runs as (
    select
        user_key,
        grain,
        window_days,
        activity_date,
        sum(starts_run) over (
            partition by user_key, grain
            order by activity_date
            rows between unbounded preceding and current row
        ) as run_index
    from run_starts
),

active_spans as (
    select
        grain,
        min(activity_date) as active_from,
        cast({{ time_add('day', 'max(window_days)', 'max(activity_date)') }} as date) as inactive_from
    from runs
    group by user_key, grain, run_index
),

-- +1 on a span's first day, -1 on the day after its last: the span of a run from a to b ends on
-- b + N - 1, so the user is inactive from b + N
changes as (
    select
        grain,
        active_from as date_day,
        1 as user_change
    from active_spans
    union all
    select
        grain,
        inactive_from as date_day,
        -1 as user_change
    from active_spans
),

daily_changes as (
    select
        grain,
        date_day,
        sum(user_change) as user_change
    from changes
    group by grain, date_day
),

counted as (
    select
        days.date_day,
        windows.grain,
        windows.window_days,
        sum(coalesce(daily_changes.user_change, 0)) over (
            partition by windows.grain
            order by days.date_day
            rows between unbounded preceding and current row
        ) as active_users
    from days
    cross join windows
    left join daily_changes
        on
            windows.grain = daily_changes.grain
            and days.date_day = daily_changes.date_day
),

with_daily as (
    select
        *,
        max(case when grain = 'day' then active_users end) over (partition by date_day) as daily_active_users
    from counted
)

select
    date_day,
    grain,
    cast(window_days as integer) as window_days,
    cast(active_users as integer) as active_users,
    cast(daily_active_users as double) / nullif(active_users, 0) as stickiness
from with_daily
