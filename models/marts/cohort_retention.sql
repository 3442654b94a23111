{#-
  Share of each cohort active n periods later. A user's cohort is the period (var retention_grain:
  day, week starting Monday, or month; UTC) of their first event.
  calendar mode: active at offset n = any event (var retention_event: that event) in cohort period + n.
  rolling mode: offset n = [t0 + n·P, t0 + (n+1)·P) from the user's first event t0, P = 1, 7 or 30
  days, and a user counts for offset n only once that interval has fully elapsed by the latest event
  time in the data.
  Offset 0 is the cohort itself: every counted user is active there (rate 1), whatever retention_event.
  One row per cohort and offset from 0 to the last period in the data, zero-filled.
  With var retention_unit group the units are groups (int_retention__user_activity): a group's first
  event is its current members' first, it is active when any member is, and the *_users columns
  count groups.
-#}

{%- set settings = retention_settings() %}
{%- set grain = settings.grain %}

with

-- one row per user, recomputed incrementally for the users whose events moved
users as (
    select
        user_key,
        cohort_period,
        first_event_at,
        last_event_at,
        active_offsets
    from {{ ref('int_retention__user_activity') }}
),

data_end as (
    select
        max(last_event_at) as last_event_at,
        cast(date_trunc('{{ grain }}', max(last_event_at)) as date) as last_period
    from users
),

activity as (
    select
        user_key,
        {{ unnest_list('active_offsets') }} as period_offset
    from users
),

cohorts as (
    select distinct cohort_period from users
),

-- every offset from 0 to the last period in the data, so empty periods show as zeros
grid as (
    select
        cohorts.cohort_period,
        {{ unnest_list(integer_range(
            '0', period_offset('cohorts.cohort_period', 'data_end.last_period', grain) ~ ' + 1'
        )) }} as period_offset
    from cohorts
    cross join data_end
),

eligible_users as (
    select
        grid.cohort_period,
        grid.period_offset,
        users.user_key
    from grid
    inner join users on grid.cohort_period = users.cohort_period
    {%- if settings.mode == 'rolling' %}
        cross join data_end
        where
            {{ time_add('day', '(grid.period_offset + 1) * ' ~ settings.period_days, 'users.first_event_at') }}
            <= data_end.last_event_at
    {%- endif %}
),

counts as (
    select
        eligible_users.cohort_period,
        eligible_users.period_offset,
        count(*) as cohort_users,
        count(
            case when eligible_users.period_offset = 0 or activity.user_key is not null then 1 end
        ) as active_users
    from eligible_users
    left join activity
        on
            eligible_users.user_key = activity.user_key
            and eligible_users.period_offset = activity.period_offset
    group by eligible_users.cohort_period, eligible_users.period_offset
)

select
    grid.cohort_period,
    cast(grid.period_offset as integer) as period_offset,
    cast(coalesce(counts.cohort_users, 0) as integer) as cohort_users,
    cast(coalesce(counts.active_users, 0) as integer) as active_users,
    cast(counts.active_users as double) / nullif(counts.cohort_users, 0) as retention_rate
from grid
left join counts
    on
        grid.cohort_period = counts.cohort_period
        and grid.period_offset = counts.period_offset
