{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        post_hook="{{ record_watermark() }}",
    )
}}

{%- set files_to_load = landing_files_to_load() %}

with

landing_lines as (
    {{ read_landing_lines(files_to_load) }}
),

non_blank_lines as (
    select
        source_file,
        line_number,
        raw_line,
        -- json_type raises on invalid text, so it runs only where json_valid said yes
        coalesce(case when json_valid(raw_line) then json_type(raw_line) = 'OBJECT' end, false)
            as is_json_object
    from landing_lines
    where not regexp_full_match(coalesce(raw_line, ''), '\s*')
),

extracted as (
    select
        source_file,
        line_number,
        raw_line,
        is_json_object,
        case
            when is_json_object
                then json_extract_string(raw_line, [
                    '$.messageId',
                    '$.type',
                    '$.event',
                    '$.name',
                    '$.userId',
                    '$.anonymousId',
                    '$.timestamp',
                    '$.receivedAt',
                    '$.sentAt',
                    '$.context.page.path',
                    '$.properties.path',
                    '$.context.page.url',
                    '$.context.page.referrer',
                    '$.properties.referrer',
                    '$.context.campaign.source',
                    '$.context.campaign.medium',
                    '$.context.campaign.name',
                    '$.context.ip',
                    '$.context.userAgent',
                    '$.context.locale'
                ])
        end as json_fields,
        case when is_json_object then json_extract(raw_line, '$.properties') end as properties
    from non_blank_lines
),

typed as (
    select
        source_file,
        line_number,
        raw_line,
        is_json_object,
        nullif(trim(json_fields[1]), '') as event_id,
        lower(nullif(trim(json_fields[2]), '')) as event_type,
        nullif(trim(json_fields[3]), '') as track_event,
        nullif(trim(json_fields[5]), '') as user_id,
        nullif(trim(json_fields[6]), '') as anonymous_id,
        {{ parse_iso8601_utc('json_fields[7]') }} as occurred_at,
        {{ parse_iso8601_utc('json_fields[8]') }} as received_at,
        {{ parse_iso8601_utc('json_fields[9]') }} as sent_at,
        coalesce(json_fields[10], json_fields[11]) as page_path,
        json_fields[12] as page_url,
        coalesce(json_fields[13], json_fields[14]) as referrer,
        json_fields[15] as utm_source,
        json_fields[16] as utm_medium,
        json_fields[17] as utm_campaign,
        json_fields[18] as ip,
        json_fields[19] as user_agent,
        json_fields[20] as locale,
        -- objects only: a scalar or array where an object belongs is dropped, not propagated
        case when json_type(properties) = 'OBJECT' then properties end as properties
    from extracted
),

classified as (
    select
        *,
        case
            when not is_json_object then 'invalid_json'
            when event_id is null then 'missing_message_id'
            when user_id is null and anonymous_id is null then 'missing_identity'
            when occurred_at is null or received_at is null then 'invalid_timestamp'
            when event_type is null or event_type not in ('track', 'page', 'screen', 'identify')
                then 'unsupported_type'
            when event_type = 'track' and track_event is null then 'missing_event_name'
        end as reject_reason
    from typed
)

select
    source_file,
    line_number,
    raw_line,
    reject_reason,
    event_id,
    event_type,
    case event_type
        when 'track' then track_event
        when 'page' then 'page_viewed'
        when 'screen' then 'screen_viewed'
        when 'identify' then 'user_identified'
    end as event_name,
    user_id,
    anonymous_id,
    occurred_at,
    received_at,
    sent_at,
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
    {{ run_timestamp() }} as _loaded_at
from classified
