{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_id',
        post_hook="{{ record_watermark() }}",
    )
}}

{#-
  Events with their user_key and session. Sessions are cut per partition (the device's anonymousId,
  or the userId for events without one) when the gap to the previous event exceeds
  session_timeout_minutes. An incremental run rebuilds whole partitions: those that received events
  and devices whose stitched user changed, so a late event can merge or split old sessions and a
  first login re-keys the device's anonymous history.
-#}

{%- set rebuilt_partitions -%}
    {%- if is_incremental() %}
        -- partitions that received events, and devices whose stitched user may have changed
        partition_key in (
            select changed_events.partition_key from {{ ref('int_events__deduplicated') }} as changed_events
            where changed_events._processed_at > {{ watermark() }}
            union
            select 'anonymous_id:' || changed_identities.anonymous_id
            from {{ ref('int_identity__anonymous_users') }} as changed_identities
            where changed_identities._processed_at > {{ watermark() }}
        )
    {%- else %}
        true
    {%- endif %}
{%- endset %}

with

identity_map as (
    select * from {{ ref('int_identity__anonymous_users') }}
),

-- Sessions are cut on a narrow projection and joined back: the windows sort every row they carry,
-- and carrying the wide event rows measured twice as slow.
event_order as (
    select
        event_id,
        partition_key,
        occurred_at
    from {{ ref('int_events__deduplicated') }}
    where {{ rebuilt_partitions }}
),

with_neighbours as (
    select
        *,
        lag(occurred_at) over partition_order as previous_occurred_at,
        lead(occurred_at) over partition_order as next_occurred_at
    from event_order
    window partition_order as (partition by partition_key order by occurred_at, event_id)
),

with_boundaries as (
    select
        *,
        previous_occurred_at is null
        or occurred_at > {{ dbt.dateadd('minute', var('session_timeout_minutes'), 'previous_occurred_at') }}
            as is_session_start,
        next_occurred_at is null
        or next_occurred_at > {{ dbt.dateadd('minute', var('session_timeout_minutes'), 'occurred_at') }}
            as is_session_end
    from with_neighbours
),

with_sessions as (
    select
        event_id,
        is_session_start,
        is_session_end,
        sum(case when is_session_start then 1 else 0 end) over running_partition as session_index,
        -- hashed on the session-start rows only: hashing every event's row measured 4 s more at 10M
        last_value(
            case when is_session_start then {{ dbt.hash("partition_key || '|' || event_id") }} end ignore nulls
        ) over running_partition as session_id
    from with_boundaries
    window running_partition as (
        partition by partition_key
        order by occurred_at, event_id
        rows between unbounded preceding and current row
    )
),

stitched_events as (
    select
        events.*,
        coalesce(events.user_id, identity_map.user_id, events.anonymous_id) as user_key
    from {{ ref('int_events__deduplicated') }} as events
    left join identity_map
        on
            events.user_id is null
            and events.anonymous_id = identity_map.anonymous_id
    where {{ rebuilt_partitions }}
),

sessionized as (
    select
        stitched_events.*,
        with_sessions.is_session_start,
        with_sessions.is_session_end,
        with_sessions.session_index,
        with_sessions.session_id
    from stitched_events
    inner join with_sessions on stitched_events.event_id = with_sessions.event_id
)

select
    event_id,
    event_type,
    event_name,
    occurred_at,
    received_at,
    anonymous_id,
    user_id,
    user_key,
    partition_key,
    session_id,
    session_index,
    is_session_start,
    is_session_end,
    page_path,
    page_url,
    referrer,
    utm_source,
    utm_medium,
    utm_campaign,
    ip,
    user_agent,
    locale,
    properties,
    traits,
    violations,
    source_file,
    line_number,
    {{ run_timestamp() }} as _processed_at
from sessionized
