{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_id',
        post_hook="{{ record_watermark() }}",
    )
}}

{#-
  One row per messageId across all history: the copy received first (ties: smallest source_file, then
  line_number). An incremental run re-decides only the messageIds its new lines carry, over every copy
  ever loaded of them, so a late copy that was received earlier still wins.
-#}

with

valid_lines as (
    select * from {{ ref('stg_segment__events') }}
    where reject_reason is null
),

candidate_copies as (
    select * from valid_lines
    {% if is_incremental() %}
        where event_id in (select event_id from valid_lines where _loaded_at > {{ watermark() }})
    {% endif %}
),

-- Ranking every row is the slow path (a full sort); only the rare repeated ids need it.
repeated_event_ids as (
    select event_id from candidate_copies
    group by event_id
    having count(*) > 1
),

losing_copies as (
    select
        source_file,
        line_number
    from (
        select
            candidate_copies.source_file,
            candidate_copies.line_number,
            row_number() over (
                partition by candidate_copies.event_id
                order by
                    candidate_copies.received_at,
                    candidate_copies.source_file,
                    candidate_copies.line_number
            ) as copy_rank
        from candidate_copies
        semi join repeated_event_ids on candidate_copies.event_id = repeated_event_ids.event_id
    ) as ranked_copies
    where copy_rank > 1
),

first_copies as (
    select candidate_copies.*
    from candidate_copies
    anti join losing_copies
        on
            candidate_copies.source_file = losing_copies.source_file
            and candidate_copies.line_number = losing_copies.line_number
)

select
    event_id,
    event_type,
    event_name,
    user_id,
    anonymous_id,
    case
        when anonymous_id is not null then 'anonymous_id:' || anonymous_id
        else 'user_id:' || user_id
    end as partition_key,
    occurred_at,
    received_at,
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
from first_copies
