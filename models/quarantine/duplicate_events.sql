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
    kept one swaps places with it. Staging keeps no text for valid lines, so the discarded copies'
    lines are reread from their landing files (only the files that hold one: in an incremental run
    usually just the new ones, as the kept copy is mostly the first delivered). -#}

{#- the kept copy of each repeated id to re-decide -#}
{%- set kept_copies_sql -%}
    select
        kept_copies.event_id,
        kept_copies.source_file,
        kept_copies.line_number
    from {{ ref('int_events__deduplicated') }} as kept_copies
    where
        kept_copies.copy_count > 1
    {%- if is_incremental() %}
            and kept_copies._processed_at > {{ watermark() }}
    {%- endif %}
{%- endset -%}

{%- set files_to_reread = [] -%}
{#- (staging is absent only when compiling for lint) -#}
{%- if execute and reread_landing_files() and load_relation(ref('stg_segment__events')) is not none -%}
    {%- set files_query -%}
        with landing_files as (
            {{ landing_file_listing() }}
        ),

        kept_copies as (
            {{ kept_copies_sql }}
        )

        select distinct lines.source_file
        from {{ ref('stg_segment__events') }} as lines
        inner join kept_copies
            on
                lines.event_id = kept_copies.event_id
                and (lines.source_file != kept_copies.source_file or lines.line_number != kept_copies.line_number)
        where
            lines.reject_reason is null
            and {{ sql_string(landing_root() ~ '/') }} || lines.source_file in (select file from landing_files)
        order by 1
    {%- endset -%}
    {%- set files_to_reread = run_query(files_query).columns[0].values() | list -%}
{%- endif %}

with

kept_copies as (
    {{ kept_copies_sql }}
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
            )
),

reread_lines as (
    {{ read_landing_lines(files_to_reread) }}
),

-- An IN in the select list is a mark join, whose hash table is always the few discarded copies. As
-- a join, DuckDB (estimating 42 rows per file scan) hashed every reread line instead and spilled
-- 1.9 GB at 10M events: 29 s, against 9 s this way.
marked_lines as (
    select
        reread_lines.source_file,
        reread_lines.line_number,
        reread_lines.raw_line,
        (reread_lines.source_file, reread_lines.line_number) in (
            select (discarded_copies.source_file, discarded_copies.line_number) from discarded_copies
        ) as is_wanted
    from reread_lines
),

wanted_lines as (
    select
        source_file,
        line_number,
        raw_line
    from marked_lines
    where is_wanted
)

select
    discarded_copies.event_id,
    discarded_copies.source_file,
    discarded_copies.line_number,
    discarded_copies.received_at,
    wanted_lines.raw_line
from discarded_copies
left join wanted_lines
    on
        discarded_copies.source_file = wanted_lines.source_file
        and discarded_copies.line_number = wanted_lines.line_number
