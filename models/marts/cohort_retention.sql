{#-
  Share of each cohort active n periods later. A user's cohort is the period (var retention_grain:
  day, week starting Monday, or month; UTC) of their first event.
  calendar mode: active at offset n = any event (var retention_event: that event) in cohort period + n.
  rolling mode: offset n = [t0 + n·P, t0 + (n+1)·P) from the user's first event t0, P = 1, 7 or 30
  days, and a user counts for offset n only once that interval has fully elapsed by the latest event
  time in the data.
  Offset 0 is the cohort itself: every counted user is active there (rate 1), whatever retention_event.
  One row per cohort and offset from 0 to the last period in the data, zero-filled.
-#}

{%- set grain = var('retention_grain') %}
{%- set mode = var('retention_mode') %}
{%- set retention_event = var('retention_event') %}
{%- if grain not in ['day', 'week', 'month'] %}
    {{ exceptions.raise_compiler_error("retention_grain must be day, week or month, got " ~ grain) }}
{%- endif %}
{%- if mode not in ['calendar', 'rolling'] %}
    {{ exceptions.raise_compiler_error("retention_mode must be calendar or rolling, got " ~ mode) }}
{%- endif %}
{%- set period_days = {'day': 1, 'week': 7, 'month': 30}[grain] %}


with

events as (
    select
        user_key,
        event_name,
        occurred_at
    from {{ ref('fct_events') }}
),

users as (
    select
        user_key,
        min(occurred_at) as first_event_at,
        cast(date_trunc('{{ grain }}', min(occurred_at)) as date) as cohort_period
    from events
    group by user_key
),

data_end as (
    select
        max(occurred_at) as last_event_at,
        cast(date_trunc('{{ grain }}', max(occurred_at)) as date) as last_period
    from events
),

activity as (
    select distinct
        users.user_key,
        users.cohort_period,
        {%- if mode == 'calendar' %}
            {%- set event_period = "cast(date_trunc('" ~ grain ~ "', events.occurred_at) as date)" %}
            {{ period_offset('users.cohort_period', event_period, grain) }}
        {%- else %}
            {{ dbt.datediff('users.first_event_at', 'events.occurred_at', 'millisecond') }}
            // {{ period_days * 86400000 }}
        {%- endif %} as period_offset
    from events
    inner join users on events.user_key = users.user_key
    where events.occurred_at >= users.first_event_at
    {%- if retention_event is not none %}
        and events.event_name = {{ sql_string(retention_event) }}
    {%- endif %}
),

cohorts as (
    select distinct cohort_period from users
),

-- every offset from 0 to the last period in the data, so empty periods show as zeros
grid as (
    select
        cohorts.cohort_period,
        unnest(range(0, {{ period_offset('cohorts.cohort_period', 'data_end.last_period', grain) }} + 1))
            as period_offset
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
    {%- if mode == 'rolling' %}
        cross join data_end
        where
            {{ dbt.dateadd('day', '(grid.period_offset + 1) * ' ~ period_days, 'users.first_event_at') }}
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
