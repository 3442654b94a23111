{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_rebuilt_sessions() }}",
        post_hook="{{ record_watermark() }}",
    )
}}

{#- int_events__sessionized rewrites each touched partition from a session on (all of it when a
    device is re-stitched or a copy moved an event), stamping the rows it writes: the pre-hook
    deletes each partition's stored sessions from the first rewritten session_index on, so sessions
    merged, split or emptied by a change disappear instead of lingering, and the sessions of the
    stamped rows are inserted. A partition an event moved out of is deleted whole, as it may have no
    stamped rows left (meta.moved_partitions). Filtering on the stamp alone lets DuckDB skip
    old row groups (1.5 s → 0.01 s at 10M events, against selecting partitions by a subquery). -#}

with

partition_events as (
    select * from {{ ref('int_events__sessionized') }}
    {% if is_incremental() %}
        where _processed_at > {{ watermark() }}
    {% endif %}
),

sessions as (
    select
        session_id,
        partition_key,
        any_value(anonymous_id) as anonymous_id,
        any_value(session_index) as session_index,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        count(*) as event_count,
        max(case when is_session_start then page_path end) as landing_page_path,
        max(case when is_session_start then referrer end) as referrer,
        max(case when is_session_start then utm_source end) as utm_source,
        max(case when is_session_start then utm_medium end) as utm_medium,
        max(case when is_session_start then utm_campaign end) as utm_campaign,
        max(case when is_session_end then user_key end) as user_key
    from partition_events
    group by session_id, partition_key
)

select
    session_id,
    user_key,
    anonymous_id,
    partition_key,
    cast(session_index as integer) as session_index,
    started_at,
    ended_at,
    {{ dbt.datediff('started_at', 'ended_at', 'millisecond') }}
    / 1000.0 as duration_seconds,
    cast(event_count as integer) as event_count,
    landing_page_path,
    referrer,
    utm_source,
    utm_medium,
    utm_campaign,
    event_count = 1 as is_bounce,
    {{ run_timestamp() }} as _processed_at
from sessions
