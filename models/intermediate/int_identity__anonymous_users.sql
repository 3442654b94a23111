{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='anonymous_id',
        post_hook="{{ record_watermark() }}",
    )
}}

{#-
  For every anonymousId ever seen together with a userId: the userId of the latest such message
  (by occurred_at, then received_at, then event_id). Incremental runs re-decide only the anonymousIds
  that new events carry with a userId.
-#}

with

identified_events as (
    select
        anonymous_id,
        user_id,
        occurred_at,
        received_at,
        event_id,
        _processed_at
    from {{ ref('int_events__deduplicated') }}
    where anonymous_id is not null and user_id is not null
),

relevant_events as (
    select * from identified_events
    {% if is_incremental() %}
        where anonymous_id in (
            select anonymous_id from identified_events where _processed_at > {{ watermark() }}
        )
    {% endif %}
),

ranked as (
    select
        anonymous_id,
        user_id,
        occurred_at,
        row_number() over (
            partition by anonymous_id
            order by occurred_at desc, received_at desc, event_id desc
        ) as recency_rank
    from relevant_events
)

select
    anonymous_id,
    user_id,
    occurred_at as identified_at,
    {{ run_timestamp() }} as _processed_at
from ranked
where recency_rank = 1
