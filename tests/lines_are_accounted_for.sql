-- Every message read is accounted for, a message being a non-blank line or a member of a batch
-- line: each loaded file's non-blank lines, counted from its bytes when it was read
-- (meta.landing_files), are the distinct lines of its kept events, discarded duplicates and
-- quarantined messages; each batch line has exactly its batch_size members there, indexed 0 to
-- batch_size - 1; and no row comes from a file the ledger does not hold.
with

loaded_files as (
    select
        path as source_file,
        lines
    from meta.landing_files
),

rows_by_file as (
    select
        source_file,
        line_number,
        batch_index
    from {{ ref('fct_events') }}
    union all
    select
        source_file,
        line_number,
        batch_index
    from {{ ref('duplicate_events') }}
    union all
    select
        source_file,
        line_number,
        batch_index
    from {{ ref('rejected_events') }}
),

batch_sizes as (
    select
        source_file,
        line_number,
        max(batch_size) as batch_size
    from {{ ref('stg_segment__events') }}
    where batch_size > 0
    group by source_file, line_number
),

rows_by_line as (
    select
        source_file,
        line_number,
        count(*) as messages_found,
        count(distinct batch_index) as distinct_indexes,
        min(batch_index) as first_index,
        max(batch_index) as last_index
    from rows_by_file
    group by source_file, line_number
),

broken_lines as (
    select
        rows_by_line.source_file,
        count(*) as broken_lines
    from rows_by_line
    left join batch_sizes
        on
            rows_by_line.source_file = batch_sizes.source_file
            and rows_by_line.line_number = batch_sizes.line_number
    where
        rows_by_line.messages_found != coalesce(batch_sizes.batch_size, 1)
        or (
            batch_sizes.batch_size is not null
            and (
                rows_by_line.distinct_indexes != batch_sizes.batch_size
                or rows_by_line.first_index != 0
                or rows_by_line.last_index != batch_sizes.batch_size - 1
            )
        )
        or (batch_sizes.batch_size is null and rows_by_line.first_index is not null)
    group by rows_by_line.source_file
),

line_counts as (
    select
        source_file,
        count(*) as lines_found
    from rows_by_line
    group by source_file
)

select
    loaded_files.lines as lines_in_file,
    coalesce(loaded_files.source_file, line_counts.source_file, broken_lines.source_file) as source_file,
    coalesce(line_counts.lines_found, 0) as lines_found,
    coalesce(broken_lines.broken_lines, 0) as lines_with_missing_or_extra_messages
from loaded_files
full outer join line_counts on loaded_files.source_file = line_counts.source_file
full outer join broken_lines on coalesce(loaded_files.source_file, line_counts.source_file) = broken_lines.source_file
where
    loaded_files.lines is distinct from coalesce(line_counts.lines_found, 0)
    or broken_lines.broken_lines > 0
