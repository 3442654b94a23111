-- One row: the whole period's events, sessions and users (distinct counts do not add up by day)
select
    count(*) as events,
    count(distinct session_id) as sessions,
    count(distinct user_key) as users,
    cast(min(occurred_at) as date) as first_day,
    cast(max(occurred_at) as date) as last_day
from read_parquet('${parquet_dir}/fct_events.parquet')
