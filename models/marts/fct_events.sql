{{ config(materialized='view') }}

{#- A view: the stored, incrementally maintained rows live in int_events__sessionized; copying
    10M rows again on every run would buy BI tools nothing. -#}

with

sessionized_events as (
    select * from {{ ref('int_events__sessionized') }}
)

select
    event_id,
    event_type,
    event_name,
    occurred_at,
    received_at,
    anonymous_id,
    user_id,
    user_key,
    session_id,
    page_path,
    page_url,
    referrer,
    properties,
    traits,
    violations,
    source_file,
    _processed_at,
    source_event_name,
    original_timestamp,
    sent_at,
    page_name,
    page_category,
    group_id,
    line_number,
    batch_index,
    user_id_is_hashed
from sessionized_events
