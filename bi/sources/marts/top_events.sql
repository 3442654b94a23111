-- Events by name and call type, from fct_events
select
    event_name,
    event_type,
    count(*) as events,
    count(distinct user_key) as users
from read_parquet('${parquet_dir}/fct_events.parquet')
group by 1, 2
order by events desc, event_name
