{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_rebuilt_users() }}",
        post_hook="{{ record_watermark() }}",
    )
}}

{#- Every column is one user's own events and sessions: an incremental run recomputes the users
    whose events moved (rebuilt_users) and removes those left with none. -#}

-- depends_on: {{ ref('int_identity__user_partitions') }}

with

events as (
    select * from {{ ref('fct_events') }}
    {%- if is_incremental() %}
        where user_key in ({{ rebuilt_users() }})
    {%- endif %}
),

sessions as (
    select * from {{ ref('fct_sessions') }}
    {%- if is_incremental() %}
        where user_key in ({{ rebuilt_users() }})
    {%- endif %}
),

event_facts as (
    select
        user_key,
        -- the user_key's own userId; an alias chain's earlier ids are not it
        coalesce(max(user_id) filter (where user_id = user_key), max(user_id)) as user_id,
        coalesce(
            bool_or(user_id_is_hashed) filter (where user_id = user_key),
            {{ arg_max('user_id_is_hashed', 'user_id') }}
        ) as user_id_is_hashed,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        count(distinct anonymous_id) as device_count,
        count(*) as event_count,
        -- the latest identify call that carried an email (its HMAC: traits hold no plain PII)
        {{ arg_max(json_field_text('traits', '$.email'), 'occurred_at') }} filter (
            where {{ json_field_text('traits', '$.email') }} is not null
        ) as email_hash
    from events
    group by user_key
),

-- A hash aggregate: ranking sessions by a window sorted them all. arg_min_null, as the first
-- session's source may be null and plain arg_min would skip to a later one.
session_facts as (
    select
        user_key,
        count(*) as session_count,
        {{ arg_min_null('utm_source', sort_key(['started_at', 'session_id'])) }} as first_utm_source
    from sessions
    group by user_key
)

select
    event_facts.user_key,
    event_facts.user_id,
    event_facts.first_seen_at,
    event_facts.last_seen_at,
    cast(event_facts.device_count as integer) as device_count,
    cast(coalesce(session_facts.session_count, 0) as integer) as session_count,
    cast(event_facts.event_count as integer) as event_count,
    session_facts.first_utm_source,
    event_facts.email_hash,
    event_facts.user_id_is_hashed
from event_facts
left join session_facts on event_facts.user_key = session_facts.user_key
