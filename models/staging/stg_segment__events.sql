{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook=["{{ reset_landing_ledger() }}", "{{ whole_stage_codegen(false) }}"],
        post_hook=[
            "{{ whole_stage_codegen(true) }}",
            "{{ record_loaded_files() }}",
            "{{ expire_quarantine_text('_loaded_at', ['raw_line', 'raw_bytes']) }}",
            "{{ record_watermark() }}",
        ],
    )
}}

{#- One statement reads every file of the run's load plan (macros/landing.sql): the reader streams
    them, one file per core, so the statement's memory does not grow with the files. -#}
{%- if var('tracking_plan_mode') not in ('enforce', 'flag') %}
    {{ exceptions.raise_compiler_error("var tracking_plan_mode must be enforce or flag, not " ~ var('tracking_plan_mode')) }}
{%- endif %}
{%- set context = tracking_plan()['context'] %}
{%- set free_text_spec = {'pii': false, 'format': none, 'enum': none} %}

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
        file_modified_at,
        coalesce(line_issue is null and {{ json_is_object_text('raw_line') }}, false) as is_json_object
    from landing_lines
    -- blank: only RE2's \s (the reader's definition), not Java's, which adds the vertical tab
    where line_issue is not null or not {{ regex_full_match('raw_line', '[ \\t\\n\\f\\r]*') }}
),

-- A batch envelope ({"batch": [msg, ...]}, the HTTP tracking API's shape) is found by a substring
-- test before any parse, so other lines pay for no second parse.
envelopes as (
    select
        *,
        {{ json_document('raw_line') }} as line_document,
        -- a CASE, as an AND would parse lines that are not JSON too
        case
            when is_json_object and contains(raw_line, '"batch"')
                then {{ json_kind(json_at(json_document('raw_line'), '$.batch')) }} = 'ARRAY'
            else false
        end as is_batch
    from non_blank_lines
),

-- One list of messages per line: the line itself, or its batch's members (an empty batch stays a
-- line, quarantined as empty_batch). Members inherit the envelope's context, sentAt and receivedAt
-- where they lack them (a JSON merge patch of the member over those fields).
message_lists as (
    select
        source_file,
        line_number,
        raw_bytes,
        line_issue,
        line_bytes,
        file_modified_at,
        is_json_object,
        case when is_batch then {{ json_length_at('line_document', '$.batch') }} = 0 else false end as is_empty_batch,
        case when is_batch then cast({{ json_length_at('line_document', '$.batch') }} as integer) end as batch_size,
        case
            when is_batch and {{ json_length_at('line_document', '$.batch') }} > 0
                then {{ json_element_texts('line_document', '$.batch') }}
            else {{ list_of(['raw_line']) }}
        end as message_texts,
        case when is_batch then {{ json_text(json_at('line_document', '$.context')) }} end as envelope_context,
        case when is_batch then {{ json_text(json_at('line_document', '$.sentAt')) }} end as envelope_sent_at,
        case when is_batch then {{ json_text(json_at('line_document', '$.receivedAt')) }} end as envelope_received_at
    from envelopes
),

messages as (
    select
        source_file,
        line_number,
        raw_bytes,
        line_issue,
        line_bytes,
        file_modified_at,
        is_json_object,
        is_empty_batch,
        batch_size,
        envelope_context,
        envelope_sent_at,
        envelope_received_at,
        {{ unnest_with_index('message_texts', 'message_index', 'raw_line') }}
    from message_lists
),

message_objects as (
    select
        source_file,
        line_number,
        raw_line,
        raw_bytes,
        line_issue,
        line_bytes,
        file_modified_at,
        is_empty_batch,
        case when batch_size > 0 then message_index end as batch_index,
        batch_size,
        case
            when batch_size > 0 then {{ json_kind(json_document('raw_line')) }} = 'OBJECT'
            else is_json_object
        end as is_json_object,
        -- A member takes the envelope's sentAt and receivedAt where it has none, and its context
        -- merged over the envelope's (macros/batch_members.sql).
        case
            when batch_size > 0 and {{ json_kind(json_document('raw_line')) }} = 'OBJECT'
                then {{ batch_member_with_envelope(
                    'raw_line', 'envelope_context', 'envelope_sent_at', 'envelope_received_at', 'batch_size > 0'
                ) }}
            else raw_line
        end as message_text
    from messages
),

message_documents as (
    select
        *,
        {{ json_document('message_text') }} as message_document
    from message_objects
),

extracted as (
    select
        source_file,
        line_number,
        raw_line,
        raw_bytes,
        line_issue,
        line_bytes,
        file_modified_at,
        is_empty_batch,
        batch_index,
        batch_size,
        is_json_object,
        -- one parse per message: every field as text (objects as their JSON text). Measured against
        -- extracting JSON values and unquoting each: 2 s less CPU per million lines.
        case
            when is_json_object and not is_empty_batch
                then {{ json_texts_at('message_document', [
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
                    '$.traits',
                    '$.originalTimestamp',
                    '$.sentAt',
                    '$.name',
                    '$.category',
                    '$.groupId',
                    '$.previousId',
                    '$.context.traits',
                    '$.context.campaign.term',
                    '$.context.campaign.content'
                ]) }}
        end as json_fields
    from message_documents
),

field_texts as (
    select
        source_file,
        line_number,
        raw_line,
        raw_bytes,
        line_issue,
        line_bytes,
        file_modified_at,
        is_empty_batch,
        batch_index,
        batch_size,
        is_json_object,
        {{ nth('json_fields', 1) }} as message_id_text,
        {{ nth('json_fields', 2) }} as type_text,
        {{ nth('json_fields', 3) }} as event_text,
        {{ nth('json_fields', 4) }} as user_id_text,
        {{ nth('json_fields', 5) }} as anonymous_id_text,
        {{ nth('json_fields', 6) }} as timestamp_text,
        {{ nth('json_fields', 7) }} as received_at_text,
        coalesce({{ nth('json_fields', 8) }}, {{ nth('json_fields', 9) }}) as page_path,
        {{ nth('json_fields', 10) }} as page_url,
        coalesce({{ nth('json_fields', 11) }}, {{ nth('json_fields', 12) }}) as referrer,
        {{ nth('json_fields', 13) }} as utm_source,
        {{ nth('json_fields', 14) }} as utm_medium,
        {{ nth('json_fields', 15) }} as utm_campaign,
        {{ nth('json_fields', 28) }} as utm_term,
        {{ nth('json_fields', 29) }} as utm_content,
        {{ nth('json_fields', 16) }} as ip,
        {{ nth('json_fields', 17) }} as user_agent,
        {{ nth('json_fields', 18) }} as locale,
        {{ nth('json_fields', 21) }} as original_timestamp_text,
        {{ nth('json_fields', 22) }} as sent_at_text,
        {{ nth('json_fields', 23) }} as name_text,
        {{ nth('json_fields', 24) }} as category_text,
        {{ nth('json_fields', 25) }} as group_id_text,
        {{ nth('json_fields', 26) }} as previous_id_text,
        {{ nth('json_fields', 19) }} as properties_text,
        {{ nth('json_fields', 20) }} as traits_text,
        {{ nth('json_fields', 27) }} as context_traits_text
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
        file_modified_at,
        is_empty_batch,
        batch_index,
        batch_size,
        is_json_object,
        nullif(trim(message_id_text), '') as event_id,
        lower(nullif(trim(type_text), '')) as event_type,
        nullif(trim(event_text), '') as track_event,
        nullif(trim(user_id_text), '') as user_id,
        nullif(trim(anonymous_id_text), '') as anonymous_id,
        nullif(trim(group_id_text), '') as group_id,
        nullif(trim(previous_id_text), '') as previous_id,
        {{ parse_iso8601_utc('timestamp_text') }} as sent_timestamp,
        {{ parse_iso8601_utc('original_timestamp_text') }} as original_timestamp,
        {{ parse_iso8601_utc('sent_at_text') }} as sent_at,
        {{ parse_iso8601_utc('received_at_text') }} as received_at_sent,
        received_at_text is not null as has_received_at,
        page_path,
        page_url,
        referrer,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_term,
        utm_content,
        ip,
        user_agent,
        locale,
        name_text,
        category_text,
        -- objects only: a scalar or array where an object belongs counts as absent
        case when left(properties_text, 1) = '{' then {{ json_parse('properties_text') }} end as properties_object,
        case
            when left(traits_text, 1) = '{' and traits_text != '{}' then {{ json_parse('traits_text') }}
            -- identify traits under context.traits (RudderStack's shape) when `traits` is absent or empty
            when
                lower(trim(type_text)) = 'identify' and left(context_traits_text, 1) = '{'
                then {{ json_parse('context_traits_text') }}
            when left(traits_text, 1) = '{' then {{ json_parse('traits_text') }}
        end as traits_object
    from field_texts
),

named as (
    select
        *,
        case event_type
            when 'track' then {{ canonical_event_name('track_event') }}
            when 'page' then 'page_viewed'
            when 'screen' then 'screen_viewed'
            when 'identify' then 'user_identified'
            when 'group' then 'group_identified'
            when 'alias' then 'user_aliased'
        end as event_name,
        case when event_type = 'track' then track_event end as source_event_name
    from typed
),

-- receivedAt is trusted when it is not before the Unix epoch and not after its file was written
-- (plus max_future_minutes of clock skew): no server stamps a message otherwise.
received_times as (
    select
        *,
        case
            when
                received_at_sent >= timestamp '1970-01-01'
                and received_at_sent
                <= {{ time_add('minute', var('max_future_minutes'), 'file_modified_at') }}
                then received_at_sent
        end as trusted_received_at
    from named
),

-- The event time as Segment computes it: `timestamp`; else receivedAt - (sentAt - originalTimestamp),
-- correcting the client's clock by the time it took to send; else originalTimestamp alone.
event_times as (
    select
        *,
        coalesce(
            sent_timestamp,
            original_timestamp - (sent_at - trusted_received_at),
            original_timestamp
        ) as event_time,
        coalesce(trusted_received_at, file_modified_at) as reference_time
    from received_times
),

plausibility as (
    select
        *,
        case when trusted_received_at is null then 'its file was written' else 'receivedAt' end as reference_name,
        case
            when event_time < {{ time_add('day', -1 * var('max_event_age_days'), 'reference_time') }}
                then 'timestamp: more than {{ var("max_event_age_days") }} days before '
            when event_time > {{ time_add('minute', var('max_future_minutes'), 'reference_time') }}
                then 'timestamp: more than {{ var("max_future_minutes") }} minutes after '
        end as implausible_prefix
    from event_times
),

timed as (
    select
        *,
        implausible_prefix || reference_name as implausible_time,
        -- an implausible time is replaced by the reference (flag mode keeps such events)
        case when implausible_prefix is null then event_time else reference_time end as occurred_at,
        case
            when trusted_received_at is not null or event_time is null then null
            when not has_received_at then 'missing'
            when received_at_sent is null then 'invalid'
            else 'implausible'
        end as received_at_problem
    from plausibility
),

planned as (
    select
        *,
        coalesce(trusted_received_at, occurred_at) as received_at,
        {{ plan_values('event_name', 'properties', 'properties_object') }} as {{ plan_values_column('properties') }},
        {{ plan_values('event_name', 'traits', 'traits_object') }} as {{ plan_values_column('traits') }}
    from timed
),

-- Fields with a nested spec (an array of products, say) are checked once each, apart from the events' CASE
nested as (
    select
        *,
        {{ plan_nested_values('event_name') }} as nested_values
    from planned
),

nested_checked as (
    select
        *,
        {{ plan_nested_checks() }} as nested_violations
    from nested
),

checked as (
    select
        *,
        -- a name holding personal data (an email in a track call's event) never passes, in either mode
        case
            when {{ regex_contains('source_event_name', pii_any_pattern()) }}
                then 'event name holds personal data'
            else {{ plan_violations('event_name') }}
        end as plan_violations
    from nested_checked
),

classified as (
    select
        *,
        case
            when line_issue is not null then line_issue
            when not is_json_object then 'invalid_json'
            when is_empty_batch then 'empty_batch'
            when event_id is null then 'missing_message_id'
            when user_id is null and anonymous_id is null then 'missing_identity'
            when event_time is null then 'invalid_timestamp'
            when event_type is null or event_type not in ('track', 'page', 'screen', 'identify', 'group', 'alias')
                then 'unsupported_type'
            when event_type = 'track' and track_event is null then 'missing_event_name'
            when event_type = 'group' and group_id is null then 'missing_group_id'
            when event_type = 'alias' and previous_id is null then 'missing_previous_id'
            when event_type = 'alias' and user_id is null then 'missing_user_id'
            when plan_violations = 'event name holds personal data' then 'unplanned_event'
            {%- if var('tracking_plan_mode') == 'enforce' %}
                when implausible_time is not null then 'implausible_timestamp'
                when plan_violations = 'unplanned_event' then 'unplanned_event'
                when plan_violations is not null then 'schema_violation'
            {%- endif %}
        end as reject_reason,
        nullif(concat_ws(
            '; ',
            plan_violations,
            implausible_time,
            'receivedAt: ' || received_at_problem || ', event time used'
        ), '') as violations
    from checked
),

-- Properties and traits objects that cannot pass as sent are rebuilt from their declared values,
-- each made safe by its spec (macros/pii/pii.sql)
rebuilt_sections as (
    select
        *,
        {{ pii_section_rebuilt('event_name', 'properties', 'properties_object', 'plan_violations') }}
            as properties_rebuilt,
        {{ pii_section_rebuilt('event_name', 'traits', 'traits_object', 'plan_violations') }} as traits_rebuilt
    from classified
),

rebuilt_values as (
    select
        *,
        {{ pii_field_values('event_name', 'properties', 'properties_rebuilt') }} as properties_values,
        {{ pii_field_values('event_name', 'traits', 'traits_rebuilt') }} as traits_values
    from rebuilt_sections
),

safe_sections as (
    select
        *,
        {{ pii_safe_field_values('properties', 'properties_values') }} as safe_properties,
        {{ pii_safe_field_values('traits', 'traits_values') }} as safe_traits
    from rebuilt_values
)

select
    source_file,
    line_number,
    -- Text is kept only where quarantine needs it: writing every line's text measured costing more
    -- than parsing it. duplicate_events rereads the few discarded copies from their files.
    case when reject_reason is not null then raw_line end as raw_line,
    -- A batch member's text is its JSON as re-serialised (its envelope is the line); index 0-based.
    batch_index,
    batch_size,
    -- The bytes as read, where the text cannot be the line: not UTF-8, or cut at the limit.
    raw_bytes,
    reject_reason,
    -- Schema problems by property name (never values): on rejected rows in enforce mode, on
    -- passing rows in flag mode.
    case
        when reject_reason = 'line_too_long'
            then 'line_bytes: ' || line_bytes || ' (landing_max_line_bytes: {{ var("landing_max_line_bytes") }})'
        when reject_reason is null or reject_reason in ('unplanned_event', 'schema_violation', 'implausible_timestamp')
            then violations
    end as violations,
    -- Identifiers by the plan's `identity` rules; an alias's previousId follows userId's, as it
    -- names an earlier userId or anonymousId and must meet them hashed alike.
    {{ pii_safe_identifier('event_id', 'messageId') }} as event_id,
    event_type,
    -- an event name holding personal data is rejected above; what remains is masked all the same
    case when plan_violations = 'event name holds personal data' then null else event_name end as event_name,
    case when plan_violations = 'event name holds personal data' then null else source_event_name end
        as source_event_name,
    {{ pii_safe_identifier('user_id', 'userId') }} as user_id,
    {{ identifier_is_hashed('user_id', 'userId') }} as user_id_is_hashed,
    {{ pii_safe_identifier('anonymous_id', 'anonymousId') }} as anonymous_id,
    {{ pii_safe_identifier('group_id', 'groupId') }} as group_id,
    {{ pii_safe_identifier('previous_id', 'userId') }} as previous_id,
    occurred_at,
    received_at,
    original_timestamp,
    sent_at,
    -- Personal data is handled here, by the plan, so no relation downstream holds any
    {{ pii_safe_text('page_path', context['page.path']) }} as page_path,
    {{ pii_safe_text('page_url', context['page.url']) }} as page_url,
    {{ pii_safe_text('referrer', context['page.referrer']) }} as referrer,
    {{ pii_safe_text('utm_source', context['campaign.source']) }} as utm_source,
    {{ pii_safe_text('utm_medium', context['campaign.medium']) }} as utm_medium,
    {{ pii_safe_text('utm_campaign', context['campaign.name']) }} as utm_campaign,
    -- utm_term and utm_content: free text (a search term can hold an email) unless the plan says more
    {{ pii_safe_text('utm_term', context.get('campaign.term') or free_text_spec) }} as utm_term,
    {{ pii_safe_text('utm_content', context.get('campaign.content') or free_text_spec) }} as utm_content,
    {{ pii_safe_text('ip', context['ip']) }} as ip,
    {{ pii_safe_text('user_agent', context['userAgent']) }} as user_agent,
    {{ pii_safe_text('locale', context['locale']) }} as locale,
    -- page and screen calls' name and category: free text
    case when event_type in ('page', 'screen') then {{ redact_free_text('name_text') }} end as page_name,
    case when event_type in ('page', 'screen') then {{ redact_free_text('category_text') }} end as page_category,
    {{ json_column(pii_safe_section(
        'event_name', 'properties', 'properties_object', 'properties_rebuilt', 'safe_properties'
    )) }} as properties,
    {{ json_column(pii_safe_section('event_name', 'traits', 'traits_object', 'traits_rebuilt', 'safe_traits')) }}
        as traits,
    {{ run_timestamp() }} as _loaded_at
from safe_sections
