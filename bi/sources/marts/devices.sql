-- Sessions by device category, from fct_sessions ('(not classified)' in a serving copy published
-- before the column: see channels.sql)
with sessions as (
    from read_parquet('${parquet_dir}/fct_sessions.parquet')
    union all by name
    select null::varchar as device_category where false
)
select
    coalesce(device_category, '(not classified)') as device_category,
    count(*) as sessions,
    count(distinct user_key) as users,
    avg(case when is_bounce then 1.0 else 0.0 end) as bounce_rate
from sessions
group by 1
order by sessions desc, device_category
