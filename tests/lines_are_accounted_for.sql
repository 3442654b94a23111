-- Every non-blank line read is a kept event, a discarded duplicate or a quarantined line.
with

counts as (
    select
        (select count(*) from {{ ref('stg_segment__events') }}) as lines_read,
        (select count(*) from {{ ref('fct_events') }}) as events,
        (select count(*) from {{ ref('duplicate_events') }}) as duplicates,
        (select count(*) from {{ ref('rejected_events') }}) as rejected
)

select *
from counts
where lines_read != events + duplicates + rejected
