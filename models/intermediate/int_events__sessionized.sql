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

with

events as (
    select * from {{ ref('int_events__deduplicated') }}
),

identity_map as (
    select * from {{ ref('int_identity__anonymous_users') }}
),

partition_events as (
    select * from events
    {% if is_incremental() %}
        -- partitions that received events, and devices whose stitched user may have changed
        where partition_key in (
            select partition_key from events
            where _processed_at > {{ watermark() }}
            union
            select 'anonymous_id:' || anonymous_id as partition_key from identity_map
            where _processed_at > {{ watermark() }}
        )
    {% endif %}
),

stitched_events as (
    select
        partition_events.*,
        coalesce(
            partition_events.user_id,
            identity_map.user_id,
            partition_events.anonymous_id
        ) as user_key
    from partition_events
    left join identity_map
        on
            partition_events.user_id is null
            and partition_events.anonymous_id = identity_map.anonymous_id
),

with_neighbours as (
    select
        *,
        lag(occurred_at) over partition_order as previous_occurred_at,
        lead(occurred_at) over partition_order as next_occurred_at
    from stitched_events
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
        *,
        sum(case when is_session_start then 1 else 0 end) over running_partition as session_index,
        last_value(case when is_session_start then event_id end ignore nulls)
            over running_partition as session_first_event_id
    from with_boundaries
    window running_partition as (
        partition by partition_key
        order by occurred_at, event_id
        rows between unbounded preceding and current row
    )
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
    {{ dbt.hash("partition_key || '|' || session_first_event_id") }} as session_id,
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
    source_file,
    line_number,
    {{ run_timestamp() }} as _processed_at
from with_sessions
