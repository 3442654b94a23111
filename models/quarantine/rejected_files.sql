{{
    config(
        materialized='incremental',
        incremental_strategy='append',
    )
}}

{#- After staging, whose scan of the landing files decides which of them could not be read. #}
-- depends_on: {{ ref('stg_segment__events') }}

with

file_outcomes as (
    select * from {{ source('landing', 'file_outcomes') }}
)

select
    source_file,
    reason,
    size_bytes,
    detail,
    {{ run_timestamp() }} as rejected_at
from file_outcomes
where reason is not null
