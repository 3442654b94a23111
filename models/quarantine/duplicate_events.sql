{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_id',
        post_hook=["{{ expire_quarantine_text('_processed_at', ['raw_line']) }}", "{{ record_watermark() }}"],
    )
}}

{#- Every valid copy of a messageId except the one int_events__deduplicated kept. Re-decided for the
    ids deduplication touched since this model's last run: a late copy received earlier than the
    kept one swaps places with it. Staging keeps no text for valid lines, so the discarded copies'
    lines are reread from their landing files (only the files that hold one: in an incremental run
    usually just the new ones, as the kept copy is mostly the first delivered). -#}

{%- if execute and reread_landing_files() %}{% do prepare_landing_reread() %}{% endif %}

with

-- the kept copy of each repeated id to re-decide
kept_copies as (
    {{ kept_copies_to_redecide() }}
),

valid_lines as (
    select * from {{ ref('stg_segment__events') }}
    where reject_reason is null and event_id in (select kept_copies.event_id from kept_copies)
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
                or valid_lines.batch_index is distinct from kept_copies.batch_index
            )
),

reread_lines as (
    {%- if reread_landing_files() %}
        {{ landing_lines_from(source('landing', 'reread_lines')) }}
    {%- else %}
        select
            cast(null as {{ dbt.type_string() }}) as source_file,
            cast(null as bigint) as line_number,
            cast(null as {{ dbt.type_string() }}) as raw_line
        where false
    {%- endif %}
),

wanted_lines as (
    {{ lines_at_positions('reread_lines', 'discarded_copies') }}
)

select
    discarded_copies.event_id,
    discarded_copies.source_file,
    discarded_copies.line_number,
    discarded_copies.received_at,
    discarded_copies.batch_index,
    -- a batch member's own JSON, as staging quarantines one
    case
        when discarded_copies.batch_index is null then wanted_lines.raw_line
        else {{ json_text(item_at(
            json_elements(json_at(json_document('wanted_lines.raw_line'), '$.batch')), 'discarded_copies.batch_index + 1'
        )) }}
    end as raw_line,
    {{ run_timestamp() }} as _processed_at
from discarded_copies
left join wanted_lines
    on
        discarded_copies.source_file = wanted_lines.source_file
        and discarded_copies.line_number = wanted_lines.line_number
