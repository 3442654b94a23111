{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_rebuilt_units(active_user_settings(), 'user') }}",
        post_hook="{{ record_watermark(active_user_settings()) }}",
    )
}}

{#-
  One row per (user, UTC day) with an event that makes the user active: any event, or one of var
  active_user_events, from a user agent that is no bot (int_user_agents__parsed; an event without
  a user agent counts). What active_users and user_lifecycle count. A user's rows depend on that
  user's events only: an incremental run recomputes the users whose events moved (rebuilt_users),
  and everyone when the var or the user agent rules changed (the watermark is keyed by both).
-#}

{%- set settings = active_user_settings() %}

-- depends_on: {{ ref('int_identity__user_partitions') }}
-- depends_on: {{ ref('user_agent_patterns') }}

with

events as (
    select
        user_key,
        event_name,
        occurred_at,
        user_agent
    from {{ ref('int_events__sessionized') }}
    {%- if is_incremental() %}
        where user_key in ({{ rebuilt_users(active_user_settings()) }})
    {%- endif %}
),

user_agents as (
    select
        user_agent,
        is_bot
    from {{ ref('int_user_agents__parsed') }}
),

active_events as (
    select
        events.user_key,
        cast(events.occurred_at as date) as activity_date
    from events
    left join user_agents on events.user_agent = user_agents.user_agent
    where
        not coalesce(user_agents.is_bot, false)
    {%- if settings.events is not none %}
            and events.event_name in ({{ sql_list(settings.events) }})
        {%- endif %}
)

select
    user_key,
    activity_date,
    cast(count(*) as integer) as active_events,
    {{ run_timestamp() }} as _processed_at
from active_events
group by user_key, activity_date
