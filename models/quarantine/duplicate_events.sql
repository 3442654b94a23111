{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_id',
        post_hook="{{ record_watermark() }}",
    )
}}

{#- Every valid copy of a messageId except the one int_events__deduplicated kept. Re-decided for the
    ids deduplication touched since this model's last run: a late copy received earlier than the
    kept one swaps places with it. -#}

with

valid_lines as (
    select * from {{ ref('stg_segment__events') }}
    where reject_reason is null
),

kept_copies as (
    select * from {{ ref('int_events__deduplicated') }}
    {% if is_incremental() %}
        where _processed_at > {{ watermark() }}
    {% endif %}
),

discarded_copies as (
    select valid_lines.*
    from valid_lines
    inner join kept_copies
        on
            valid_lines.event_id = kept_copies.event_id
            and (
                valid_lines.source_file != kept_copies.source_file
                or valid_lines.line_number != kept_copies.line_number
            )
)

select
    event_id,
    source_file,
    line_number,
    received_at,
    raw_line
from discarded_copies
