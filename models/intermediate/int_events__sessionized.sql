{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_id',
        partition_by=table_partitions('occurred_on'),
        pre_hook="{{ record_moved_partitions(sessionize_settings()) }}",
        post_hook=["{{ sessionize_remaining_buckets() }}", "{{ record_watermark(sessionize_settings()) }}"],
    )
}}

{#-
  Events with their user_key and session. Sessions are cut per partition (the device's anonymousId,
  or the userId for events without one) when the gap to the previous event exceeds
  session_timeout_minutes.
  An incremental run re-sessionizes each partition that received events from the start of the first
  session a change can touch: the session of the last earlier event when the change is within the
  timeout of it, else the change itself. Earlier sessions cannot change (the gap before the rebuilt
  part still exceeds the timeout), so their rows stay as written. Rebuilt whole: devices whose
  stitched user changed (every event's user_key moves) and partitions where a re-decided copy moved
  an event in time or to another partition. Every row written carries the run's stamp: the rows
  stamped after a later model's watermark are each touched partition's events from its rebuild
  point on, and that point is a session start.
-#}

{%- set timeout_minutes = var('session_timeout_minutes') %}
{%- set buckets = sessionize_buckets() %}

{#- Which events this statement sessionizes: an incremental run's rebuilt partitions, joined where
    the events are read, narrow and wide (DuckDB then filters the scan by them; measured at 10M
    events, one new day: joining the wide rows to the rebuilt sessions by event_id alone probed all
    10M rows, 20 s), or a full build's bucket of partitions (macros/sessionize_buckets.sql). -#}
{%- set events_of_this_statement -%}
    {%- if is_incremental() %}
        inner join rebuild_points
            on
                events.partition_key = rebuild_points.partition_key
                and (rebuild_points.rebuild_from is null or events.occurred_at >= rebuild_points.rebuild_from)
    {%- elif buckets > 1 %}
        where {{ sessionize_bucket_filter('events.partition_key', buckets) }}
    {%- endif %}
{%- endset %}

with

identity_map as (
    select * from {{ ref('int_identity__anonymous_users') }}
),

aliases as (
    select * from {{ ref('int_identity__aliases') }}
),

{% if is_incremental() %}
    changed_events as (
        select
            event_id,
            partition_key,
            occurred_at
        from {{ ref('int_events__deduplicated') }}
        where _processed_at > {{ watermark(sessionize_settings()) }}
    ),

    realiased_keys as (
        select realiased.alias_key
        from aliases as realiased
        where realiased._processed_at > {{ watermark(sessionize_settings()) }}
    ),

    whole_partitions as (
        select 'anonymous_id:' || restitched.anonymous_id as partition_key
        from identity_map as restitched
        where restitched._processed_at > {{ watermark(sessionize_settings()) }}
        union
        {{ moved_partitions(sessionize_settings()) }}
        union
        -- events keyed by an id an alias now resolves differently: by their userId, their device's
        -- userId or their anonymousId (a superset of those keyed by it)
        select stored_events.partition_key
        from {{ this }} as stored_events
        where
            stored_events.user_id in (select realiased_keys.alias_key from realiased_keys)
            or stored_events.anonymous_id in (select realiased_keys.alias_key from realiased_keys)
        union
        select 'anonymous_id:' || devices.anonymous_id as partition_key
        from identity_map as devices
        where devices.user_id in (select realiased_keys.alias_key from realiased_keys)
    ),

    first_changes as (
        select
            partition_key,
            min(occurred_at) as changed_from
        from changed_events
        where partition_key not in (select whole_partitions.partition_key from whole_partitions)
        group by partition_key
    ),

    earlier_sessions as (
        select
            partition_key,
            occurred_at,
            session_index,
            is_session_start
        from {{ this }}
        where partition_key in (select first_changes.partition_key from first_changes)
    ),

    -- the last stored event before each partition's first change: session_index never decreases
    -- with time, and events sharing a time share a session (an asof join measured 2 s at 10M)
    previous_events as (
        select
            first_changes.partition_key,
            first_changes.changed_from,
            max(earlier_sessions.occurred_at) as previous_occurred_at,
            max(earlier_sessions.session_index) as previous_session_index
        from first_changes
        left join earlier_sessions
            on
                first_changes.partition_key = earlier_sessions.partition_key
                and first_changes.changed_from > earlier_sessions.occurred_at
        group by first_changes.partition_key, first_changes.changed_from
    ),

    rebuild_points as (
        select
            previous_events.partition_key,
            case
                when joins_previous_session then previous_session_starts.occurred_at
                else previous_events.changed_from
            end as rebuild_from,
            case
                when joins_previous_session then previous_events.previous_session_index - 1
                else coalesce(previous_events.previous_session_index, 0)
            end as sessions_before
        from (
            select
                *,
                coalesce(
                    changed_from
                    <= {{ time_add('minute', timeout_minutes, 'previous_occurred_at') }},
                    false
                ) as joins_previous_session
            from previous_events
        ) as previous_events
        left join earlier_sessions as previous_session_starts
            on
                previous_events.partition_key = previous_session_starts.partition_key
                and previous_events.previous_session_index = previous_session_starts.session_index
                and previous_session_starts.is_session_start
        union all
        select
            partition_key,
            cast(null as timestamp) as rebuild_from,
            0 as sessions_before
        from whole_partitions
    ),
{% endif %}

-- Sessions are cut on a narrow projection and joined back: the windows sort every row they carry,
-- and carrying the wide event rows measured twice as slow.
event_order as (
    select
        events.event_id,
        events.partition_key,
        events.occurred_at,
        {%- if is_incremental() %}
            rebuild_points.sessions_before
        {%- else %}
            0 as sessions_before
        {%- endif %}
    from {{ ref('int_events__deduplicated') }} as events
    {{ events_of_this_statement }}
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
        or occurred_at > {{ time_add('minute', timeout_minutes, 'previous_occurred_at') }}
            as is_session_start,
        next_occurred_at is null
        or next_occurred_at > {{ time_add('minute', timeout_minutes, 'occurred_at') }}
            as is_session_end
    from with_neighbours
),

with_sessions as (
    select
        event_id,
        is_session_start,
        is_session_end,
        sessions_before + sum(case when is_session_start then 1 else 0 end) over running_partition as session_index,
        -- hashed on the session-start rows only: hashing every event's row measured 4 s more at 10M
        {{ last_non_null(
            'case when is_session_start then ' ~ dbt.hash("partition_key || '|' || event_id") ~ ' end'
        ) }} over running_partition as session_id
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
        coalesce(events.user_id, identity_map.user_id, events.anonymous_id) as identity_key
    from {{ ref('int_events__deduplicated') }} as events
    left join identity_map
        on
            events.user_id is null
            and events.anonymous_id = identity_map.anonymous_id
    {{ events_of_this_statement }}
),

aliased_events as (
    select
        stitched_events.*,
        coalesce(aliases.user_id, stitched_events.identity_key) as user_key
    from stitched_events
    left join aliases on stitched_events.identity_key = aliases.alias_key
),

sessionized as (
    select
        aliased_events.*,
        with_sessions.is_session_start,
        with_sessions.is_session_end,
        with_sessions.session_index,
        with_sessions.session_id
    from aliased_events
    inner join with_sessions on aliased_events.event_id = with_sessions.event_id
)

select
    event_id,
    event_type,
    event_name,
    source_event_name,
    occurred_at,
    received_at,
    original_timestamp,
    sent_at,
    anonymous_id,
    user_id,
    user_id_is_hashed,
    user_key,
    group_id,
    previous_id,
    partition_key,
    session_id,
    session_index,
    is_session_start,
    is_session_end,
    page_path,
    page_url,
    page_name,
    page_category,
    referrer,
    utm_source,
    utm_medium,
    utm_campaign,
    utm_term,
    utm_content,
    ip,
    user_agent,
    locale,
    properties,
    traits,
    violations,
    source_file,
    line_number,
    batch_index,
    {{ run_timestamp() }} as _processed_at,
    -- last: Spark keeps a table's partition columns after the others
    occurred_on
from sessionized
