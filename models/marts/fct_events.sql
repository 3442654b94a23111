{{ config(materialized='view') }}

{#- A view: the stored, incrementally maintained rows live in int_events__sessionized; copying
    10M rows again on every run would buy BI tools nothing. The device columns come from the
    event's own user agent (int_user_agents__parsed), channel_group from its session
    (fct_sessions): both follow the rule seeds as they are now. The user agent itself is left out
    (a fingerprinting vector); the IP too. -#}

with

sessionized_events as (
    select * from {{ ref('int_events__sessionized') }}
),

user_agents as (
    select * from {{ ref('int_user_agents__parsed') }}
),

sessions as (
    select
        session_id,
        channel_group
    from {{ ref('fct_sessions') }}
)

select
    sessionized_events.event_id,
    sessionized_events.event_type,
    sessionized_events.event_name,
    sessionized_events.occurred_at,
    sessionized_events.received_at,
    sessionized_events.anonymous_id,
    sessionized_events.user_id,
    sessionized_events.user_key,
    sessionized_events.session_id,
    sessionized_events.page_path,
    sessionized_events.page_url,
    sessionized_events.referrer,
    sessionized_events.properties,
    sessionized_events.traits,
    sessionized_events.violations,
    sessionized_events.source_file,
    sessionized_events._processed_at,
    sessionized_events.source_event_name,
    sessionized_events.original_timestamp,
    sessionized_events.sent_at,
    sessionized_events.page_name,
    sessionized_events.page_category,
    sessionized_events.group_id,
    sessionized_events.line_number,
    sessionized_events.batch_index,
    sessionized_events.user_id_is_hashed,
    sessionized_events.utm_source,
    sessionized_events.utm_medium,
    sessionized_events.utm_campaign,
    sessionized_events.utm_term,
    sessionized_events.utm_content,
    sessionized_events.locale,
    sessions.channel_group,
    user_agents.device_category,
    user_agents.browser_family,
    user_agents.os_family,
    coalesce(user_agents.is_bot, false) as is_bot
from sessionized_events
left join user_agents on sessionized_events.user_agent = user_agents.user_agent
left join sessions on sessionized_events.session_id = sessions.session_id
