{#-
  PostHog's lifecycle: per period (UTC day, Monday week, month) and grain, the users who are
  - new: active in it for the first time (their first period with activity);
  - returning: active in it and in the period before;
  - resurrecting: active in it, not in the period before, but in an earlier one;
  - dormant: active in the period before, not in it. Reported as a negative count, as PostHog
    charts it (bars below the axis).
  Activity is int_activity__user_days' (var active_user_events, bots left out). One row per grain
  and period from the first to the last period with activity, zero-filled; new + returning +
  resurrecting is the period's active users.
-#}

{%- set grains = lifecycle_grains() %}

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

periods as (
    {%- for grain in grains %}
        select distinct
            '{{ grain }}' as grain,
            cast({{ dbt.date_trunc(grain, 'date_day') }} as date) as period_start,
            cast({{ time_add(grain, 1, dbt.date_trunc(grain, 'date_day')) }} as date) as next_period_start
        from days
        {{ 'union all' if not loop.last }}
    {%- endfor %}
),

user_periods as (
    {%- for grain in grains %}
        select distinct
            user_key,
            '{{ grain }}' as grain,
            cast({{ dbt.date_trunc(grain, 'activity_date') }} as date) as period_start
        from user_days
        {{ 'union all' if not loop.last }}
    {%- endfor %}
),

with_neighbours as (
    select
        user_periods.user_key,
        user_periods.grain,
        user_periods.period_start,
        periods.next_period_start,
        lag(user_periods.period_start) over user_grain as previous_active_period,
        lead(user_periods.period_start) over user_grain as next_active_period,
        min(user_periods.period_start) over (partition by user_periods.user_key, user_periods.grain) as first_period
    from user_periods
    inner join periods
        on
            user_periods.grain = periods.grain
            and user_periods.period_start = periods.period_start
    window user_grain as (partition by user_periods.user_key, user_periods.grain order by user_periods.period_start)
),

-- the period before a period: the one whose next period it is
previous_periods as (
    select
        grain,
        period_start as previous_period,
        next_period_start as period_start
    from periods
),

statuses as (
    select
        with_neighbours.grain,
        with_neighbours.period_start,
        case
            when with_neighbours.period_start = with_neighbours.first_period then 'new'
            when with_neighbours.previous_active_period = previous_periods.previous_period then 'returning'
            else 'resurrecting'
        end as status
    from with_neighbours
    left join previous_periods
        on
            with_neighbours.grain = previous_periods.grain
            and with_neighbours.period_start = previous_periods.period_start
    union all
    -- dormant in the period after an active one when that one is not active too (and it is in
    -- the data's span)
    select
        grain,
        next_period_start as period_start,
        'dormant' as status
    from with_neighbours
    where next_active_period is null or next_active_period != next_period_start
),

counts as (
    select
        grain,
        period_start,
        count(case when status = 'new' then 1 end) as new_users,
        count(case when status = 'returning' then 1 end) as returning_users,
        count(case when status = 'resurrecting' then 1 end) as resurrecting_users,
        count(case when status = 'dormant' then 1 end) as dormant_users
    from statuses
    group by grain, period_start
)

select
    periods.period_start,
    periods.grain,
    cast(coalesce(counts.new_users, 0) as integer) as new_users,
    cast(coalesce(counts.returning_users, 0) as integer) as returning_users,
    cast(coalesce(counts.resurrecting_users, 0) as integer) as resurrecting_users,
    cast(coalesce(counts.new_users + counts.returning_users + counts.resurrecting_users, 0) as integer)
        as active_users,
    -cast(coalesce(counts.dormant_users, 0) as integer) as dormant_users
from periods
left join counts
    on
        periods.grain = counts.grain
        and periods.period_start = counts.period_start
