{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_rows_past_watermark('rejected_at') }}",
        post_hook=["{{ expire_quarantine_text('rejected_at', ['raw_line', 'raw_bytes']) }}", "{{ record_watermark() }}"],
    )
}}

with

rejected_lines as (
    select * from {{ ref('stg_segment__events') }}
    where reject_reason is not null
    {% if is_incremental() %}
        and _loaded_at > {{ watermark() }}
    {% endif %}
)

select
    raw_line,
    source_file,
    line_number,
    reject_reason as reason,
    violations,
    _loaded_at as rejected_at,
    raw_bytes,
    batch_index
from rejected_lines
