-- Each funnel's steps, overall rows only (breakdown rows have a breakdown_key)
select
    funnel_name,
    step_index,
    step_index || '. ' || step_name as step,
    users,
    conversion_from_start,
    conversion_from_previous,
    median_seconds_from_previous
from read_parquet('${parquet_dir}/funnel_steps.parquet')
where breakdown_key is null
order by funnel_name, step_index
