-- Every loaded file's non-blank lines, counted from its bytes when it was read (meta.landing_files),
-- are its kept events, discarded duplicates and quarantined lines; and no row comes from a file
-- the ledger does not hold.
with

loaded_files as (
    select
        path as source_file,
        lines
    from meta.landing_files
),

rows_by_file as (
    select source_file from {{ ref('fct_events') }}
    union all
    select source_file from {{ ref('duplicate_events') }}
    union all
    select source_file from {{ ref('rejected_events') }}
),

row_counts as (
    select
        source_file,
        count(*) as rows_found
    from rows_by_file
    group by source_file
)

select
    loaded_files.lines as lines_in_file,
    coalesce(loaded_files.source_file, row_counts.source_file) as source_file,
    coalesce(row_counts.rows_found, 0) as rows_found
from loaded_files
full outer join row_counts on loaded_files.source_file = row_counts.source_file
where loaded_files.lines is distinct from coalesce(row_counts.rows_found, 0)
