{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ reset_landing_ledger() }}",
        post_hook=["{{ record_loaded_files() }}", "{{ record_watermark() }}"],
    )
}}

{#- One statement reads every file of the run's load plan (macros/landing.sql): the reader streams
    them, one file per core, so the statement's memory does not grow with the files. -#}
{%- if var('tracking_plan_mode') not in ('enforce', 'flag') %}
    {{ exceptions.raise_compiler_error("var tracking_plan_mode must be enforce or flag, not " ~ var('tracking_plan_mode')) }}
{%- endif %}
{%- set context = tracking_plan()['context'] %}

with

landing_lines as (
    {{ landing_lines_from(source('landing', 'lines')) }}
),

non_blank_lines as (
    select
        source_file,
        line_number,
        raw_line,
        raw_bytes,
        line_issue,
        line_bytes,
        -- json_valid is one parse; the object check needs only the first character after JSON's
        -- whitespace (space, tab, newline, carriage return)
        coalesce(
            line_issue is null and json_valid(raw_line) and ltrim(raw_line, e' \t\n\r')[1] = '{', false
        ) as is_json_object
    from landing_lines
    where line_issue is not null or not regexp_full_match(raw_line, '\s*')
),

extracted as (
    select
        source_file,
        line_number,
        raw_line,
        raw_bytes,
        line_issue,
        line_bytes,
        is_json_object,
        -- one parse per line: every field as text (objects as their JSON text). Measured against
        -- extracting JSON values and unquoting each: 2 s less CPU per million lines.
        case
            when is_json_object
                then json_extract_string(raw_line, [
                    '$.messageId',
                    '$.type',
                    '$.event',
                    '$.userId',
                    '$.anonymousId',
                    '$.timestamp',
                    '$.receivedAt',
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
                    '$.context.locale',
                    '$.properties',
                    '$.traits'
                ])
        end as json_fields
    from non_blank_lines
),

field_texts as (
    select
        source_file,
        line_number,
        raw_line,
        raw_bytes,
        line_issue,
        line_bytes,
        is_json_object,
        json_fields[1] as message_id_text,
        json_fields[2] as type_text,
        json_fields[3] as event_text,
        json_fields[4] as user_id_text,
        json_fields[5] as anonymous_id_text,
        json_fields[6] as timestamp_text,
        json_fields[7] as received_at_text,
        coalesce(json_fields[8], json_fields[9]) as page_path,
        json_fields[10] as page_url,
        coalesce(json_fields[11], json_fields[12]) as referrer,
        json_fields[13] as utm_source,
        json_fields[14] as utm_medium,
        json_fields[15] as utm_campaign,
        json_fields[16] as ip,
        json_fields[17] as user_agent,
        json_fields[18] as locale,
        -- objects only: a scalar or array where an object belongs counts as absent
        case when left(json_fields[19], 1) = '{' then json_fields[19]::json end as properties_object,
        case when left(json_fields[20], 1) = '{' then json_fields[20]::json end as traits_object
    from extracted
),

typed as (
    select
        source_file,
        line_number,
        raw_line,
        raw_bytes,
        line_issue,
        line_bytes,
        is_json_object,
        nullif(trim(message_id_text), '') as event_id,
        lower(nullif(trim(type_text), '')) as event_type,
        nullif(trim(event_text), '') as track_event,
        nullif(trim(user_id_text), '') as user_id,
        nullif(trim(anonymous_id_text), '') as anonymous_id,
        {{ parse_iso8601_utc('timestamp_text') }} as occurred_at,
        {{ parse_iso8601_utc('received_at_text') }} as received_at,
        page_path,
        page_url,
        referrer,
        utm_source,
        utm_medium,
        utm_campaign,
        ip,
        user_agent,
        locale,
        properties_object,
        traits_object,
        case lower(nullif(trim(type_text), ''))
            when 'track' then nullif(trim(event_text), '')
            when 'page' then 'page_viewed'
            when 'screen' then 'screen_viewed'
            when 'identify' then 'user_identified'
        end as event_name
    from field_texts
),

planned as (
    select
        *,
        {{ plan_values('event_name', 'properties', 'properties_object') }} as {{ plan_values_column('properties') }},
        {{ plan_values('event_name', 'traits', 'traits_object') }} as {{ plan_values_column('traits') }}
    from typed
),

checked as (
    select
        *,
        {{ plan_violations('event_name') }} as violations
    from planned
),

classified as (
    select
        *,
        case
            when line_issue is not null then line_issue
            when not is_json_object then 'invalid_json'
            when event_id is null then 'missing_message_id'
            when user_id is null and anonymous_id is null then 'missing_identity'
            when occurred_at is null or received_at is null then 'invalid_timestamp'
            when event_type is null or event_type not in ('track', 'page', 'screen', 'identify')
                then 'unsupported_type'
            when event_type = 'track' and track_event is null then 'missing_event_name'
            {%- if var('tracking_plan_mode') == 'enforce' %}
                when violations = 'unplanned_event' then 'unplanned_event'
                when violations is not null then 'schema_violation'
            {%- endif %}
        end as reject_reason
    from checked
)

select
    source_file,
    line_number,
    -- Text is kept only where quarantine needs it: writing every line's text measured costing more
    -- than parsing it. duplicate_events rereads the few discarded copies from their files.
    case when reject_reason is not null then raw_line end as raw_line,
    -- The bytes as read, where the text cannot be the line: not UTF-8, or cut at the limit.
    raw_bytes,
    reject_reason,
    -- Schema problems by property name (never values): on rejected rows in enforce mode, on
    -- passing rows in flag mode.
    case
        when reject_reason = 'line_too_long'
            then 'line_bytes: ' || line_bytes || ' (landing_max_line_bytes: {{ var("landing_max_line_bytes") }})'
        when reject_reason is null or reject_reason in ('unplanned_event', 'schema_violation') then violations
    end as violations,
    event_id,
    event_type,
    event_name,
    user_id,
    anonymous_id,
    occurred_at,
    received_at,
    -- Personal data is handled here, by the plan, so no relation downstream holds any
    {{ pii_safe_text('page_path', context['page.path']) }} as page_path,
    {{ pii_safe_text('page_url', context['page.url']) }} as page_url,
    {{ pii_safe_text('referrer', context['page.referrer']) }} as referrer,
    {{ pii_safe_text('utm_source', context['campaign.source']) }} as utm_source,
    {{ pii_safe_text('utm_medium', context['campaign.medium']) }} as utm_medium,
    {{ pii_safe_text('utm_campaign', context['campaign.name']) }} as utm_campaign,
    {{ pii_safe_text('ip', context['ip']) }} as ip,
    {{ pii_safe_text('user_agent', context['userAgent']) }} as user_agent,
    {{ pii_safe_text('locale', context['locale']) }} as locale,
    {{ pii_safe_section('event_name', 'properties', 'properties_object', 'violations') }} as properties,
    {{ pii_safe_section('event_name', 'traits', 'traits_object', 'violations') }} as traits,
    {{ run_timestamp() }} as _loaded_at
from classified
