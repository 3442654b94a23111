{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='partition_key',
        post_hook="{{ record_watermark() }}",
    )
}}

{#-
  Which user_keys each partition's events carry (is_current), and which they carried before a
  re-stitch moved them elsewhere (retired, stamped when that happened). Marts kept per user rebuild
  the users of rows stamped after their own watermark: users who gained events and users who lost
  them, whichever run moved them, since a retired pair keeps its stamp until it is read.
-#}

with

{% if is_incremental() %}
    -- Partitions rewritten, from a point on or whole, and those an event left, which may hold none.
    touched_partitions as (
        select touched.partition_key from {{ ref('int_events__sessionized') }} as touched
        where touched._processed_at > {{ watermark() }}
        union
        {{ moved_partitions() }}
    ),
{% endif %}

rebuilt_events as (
    select
        partition_key,
        user_key
    from {{ ref('int_events__sessionized') }}
    {% if is_incremental() %}
        -- all events of the partitions touched (a partition is often rewritten from a point on)
        where partition_key in (select touched_partitions.partition_key from touched_partitions)
    {% endif %}
),

current_pairs as (
    select distinct
        partition_key,
        user_key
    from rebuilt_events
),

{% if is_incremental() %}
    retired_pairs as (
        {{ retired_pairs(
            ['partition_key', 'user_key'],
            [],
            'current_pairs',
            'earlier_pairs.partition_key in (select touched_partitions.partition_key from touched_partitions)',
        ) }}
    ),
{% endif %}

pairs as (
    select
        partition_key,
        user_key,
        true as is_current,
        {{ run_timestamp() }} as _processed_at
    from current_pairs
    {% if is_incremental() %}
        union all
        select
            partition_key,
            user_key,
            false as is_current,
            _processed_at
        from retired_pairs
    {% endif %}
)

select
    partition_key,
    user_key,
    is_current,
    _processed_at
from pairs
