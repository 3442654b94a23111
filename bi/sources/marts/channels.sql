-- Sessions by the channel group and campaign fields (utm_*) of their first event, from
-- fct_sessions. channel_group came later than utm_*: a serving copy published before it gets
-- nulls (UNION ALL BY NAME adds the missing column), shown as '(not classified)'.
with sessions as (
    from read_parquet('${parquet_dir}/fct_sessions.parquet')
    union all by name
    select null::varchar as channel_group where false
)
select
    coalesce(channel_group, '(not classified)') as channel_group,
    coalesce(utm_source, '(none)') as utm_source,
    coalesce(utm_medium, '(none)') as utm_medium,
    count(*) as sessions,
    count(distinct user_key) as users,
    avg(case when is_bounce then 1.0 else 0.0 end) as bounce_rate,
    avg(duration_seconds) as avg_duration_seconds
from sessions
group by 1, 2, 3
order by sessions desc, channel_group, utm_source, utm_medium
