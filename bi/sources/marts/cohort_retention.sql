-- The retention grid; the cohort as text so that the heatmap shows it as a label
select
    strftime(cohort_period, '%Y-%m-%d') as cohort,
    period_offset,
    cohort_users,
    active_users,
    retention_rate
from read_parquet('${parquet_dir}/cohort_retention.parquet')
order by cohort_period, period_offset
