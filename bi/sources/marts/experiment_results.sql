-- One row per (experiment, variant), from experiment_results
select
    experiment_id,
    variant,
    is_control,
    users,
    converters,
    conversion_rate,
    absolute_lift,
    relative_lift,
    p_value,
    ci_low,
    ci_high,
    srm_p_value,
    excluded_users
from read_parquet('${parquet_dir}/experiment_results.parquet')
order by experiment_id, is_control desc, variant
