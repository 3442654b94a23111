{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='partition_key',
        post_hook="{{ record_watermark() }}",
    )
}}

{#- Keyed by partition: a rebuilt partition replaces all its old sessions, so sessions merged or split
    by a late event disappear instead of lingering. -#}

with

sessionized_events as (
    select * from {{ ref('int_events__sessionized') }}
),

partition_events as (
    select * from sessionized_events
    {% if is_incremental() %}
        -- int_events__sessionized rewrites a partition whole, so every row of a rebuilt partition
        -- carries the new stamp; filtering on the stamp alone lets DuckDB skip old row groups
        -- (1.5 s → 0.01 s at 10M events, against selecting the partitions by a subquery)
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
