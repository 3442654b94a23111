-- Quarantined lines keep their text until var quarantine_retention_days after they were written
-- (raw_bytes too where the text cannot be the line), and lose it after.
with

rejected as (
    select * from {{ ref('rejected_events') }}
),

wrong_text as (
    select
        source_file,
        line_number,
        batch_index,
        reason
    from rejected
    where
        case
            when {{ quarantine_text_expired('rejected_at') }} then raw_line is not null or raw_bytes is not null
            else raw_line is null or (reason in ('invalid_encoding', 'line_too_long') and raw_bytes is null)
        end
)

select * from wrong_text
