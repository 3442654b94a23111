{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_rebuilt_units(retention_unit_settings(), analysis_unit('retention_unit')) }}",
        post_hook="{{ record_watermark(retention_unit_settings()) }}",
    )
}}

{#-
  Per user, what cohort_retention counts: the first event and its cohort period, the latest event,
  and the offsets with activity (see cohort_retention for calendar and rolling offsets). A user's
  row depends on that user's events only: an incremental run recomputes the users whose events
  moved (rebuilt_users), and everyone when the retention vars changed.
  With var retention_unit group the unit is a group (macros/analysis/analysis_unit.sql): its events
  are all its current members' events, and user_key holds the group_id; an incremental run
  recomputes the groups whose members or members' events changed (rebuilt_units).
-#}

{%- set settings = retention_settings() %}
{%- set unit = analysis_unit('retention_unit') %}

-- depends_on: {{ ref('int_identity__user_partitions') }}
-- depends_on: {{ ref('int_groups__memberships') }}

with

events as (
    {%- if unit == 'group' %}
        select
            memberships.group_id as user_key,
            member_events.event_name,
            member_events.occurred_at
        from {{ ref('fct_events') }} as member_events
        inner join {{ ref('int_groups__memberships') }} as memberships
            on member_events.user_key = memberships.user_key
        where memberships.is_current
        {% if is_incremental() %}
            and memberships.group_id in ({{ rebuilt_units(retention_unit_settings(), unit) }})
        {% endif %}
    {%- else %}
        select
            user_key,
            event_name,
            occurred_at
        from {{ ref('fct_events') }}
        {%- if is_incremental() %}
            where user_key in ({{ rebuilt_units(retention_unit_settings(), unit) }})
        {%- endif %}
    {%- endif %}
),

{%- if settings.mode == 'calendar' %}

    -- Calendar offsets need only the periods a user was active in: grouping by user and period
    -- first, rather than joining every event to its user's cohort, took 0.6 s instead of 1.9 at
    -- 10M events.
    user_periods as (
        select
            user_key,
            cast(date_trunc('{{ settings.grain }}', occurred_at) as date) as event_period,
            min(occurred_at) as first_event_at,
            max(occurred_at) as last_event_at,
            count(*)
            {%- if settings.event is not none %}
                filter (where event_name = {{ sql_string(settings.event) }})
            {%- endif %} as retention_events
        from events
        group by user_key, event_period
    ),

    users as (
        select
            user_key,
            min(event_period) as cohort_period,
            min(first_event_at) as first_event_at,
            max(last_event_at) as last_event_at,
            {{ sorted_list_agg('event_period', filter='retention_events > 0') }} as active_periods
        from user_periods
        group by user_key
    ),

    user_activity as (
        select
            user_key,
            cohort_period,
            first_event_at,
            last_event_at,
            {{ list_transform(
                'active_periods',
                'active_period',
                'cast(' ~ period_offset('cohort_period', 'active_period', settings.grain) ~ ' as integer)',
            ) }} as active_offsets
        from users
    )

{%- else %}

    users as (
        select
            user_key,
            min(occurred_at) as first_event_at,
            max(occurred_at) as last_event_at,
            cast(date_trunc('{{ settings.grain }}', min(occurred_at)) as date) as cohort_period
        from events
        group by user_key
    ),

    -- Rolling intervals start at the user's first event, so each event is placed against it
    event_offsets as (
        select
            users.user_key,
            events.event_name,
            cast(
                {{ integer_divide(
                    time_diff('users.first_event_at', 'events.occurred_at', 'millisecond'),
                    settings.period_days * 86400000,
                ) }}
                as integer
            ) as period_offset
        from events
        inner join users on events.user_key = users.user_key
    ),

    active_offsets as (
        select
            user_key,
            {{ sorted_list_agg(
                'period_offset',
                distinct=true,
                filter=('event_name = ' ~ sql_string(settings.event)) if settings.event is not none else none,
            ) }} as active_offsets
        from event_offsets
        group by user_key
    ),

    user_activity as (
        select
            users.user_key,
            users.cohort_period,
            users.first_event_at,
            users.last_event_at,
            active_offsets.active_offsets
        from users
        inner join active_offsets on users.user_key = active_offsets.user_key
    )

{%- endif %}

select
    user_key,
    cohort_period,
    first_event_at,
    last_event_at,
    coalesce(active_offsets, {{ empty_integer_list() }}) as active_offsets,
    {{ run_timestamp() }} as _processed_at
from user_activity
