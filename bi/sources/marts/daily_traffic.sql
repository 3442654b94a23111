-- Events, sessions and users per day (UTC), from fct_events
select
    cast(occurred_at as date) as day,
    count(*) as events,
    count(distinct session_id) as sessions,
    count(distinct user_key) as users
from read_parquet('${parquet_dir}/fct_events.parquet')
group by 1
order by 1
