-- Hand-written single-script DuckDB baseline for `make bench`: the core work of the pipeline
-- (ingest, quarantine, dedupe, stitch, sessionize, sessions, one funnel, weekly retention) with no
-- dbt, no tests and no incremental bookkeeping. `{landing}` is replaced by `read_csv(...) with
-- ordinality` scans of the landing files (event_analytics.bench.BASELINE_READS): by default all of
-- them unioned, read side by side, one file per thread (a gzip stream decompresses on one core);
-- or one file's, the statement then running once per file from one connection per core at once.
-- The statements before the first table (a setting, a macro) run on every connection.
set TimeZone = 'UTC';

-- An ISO 8601 time as UTC, else null.
create or replace temp macro utc_time(text) as
    case when regexp_full_match(text, '\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:?\d{2})?')
        then timezone('UTC', try_cast(text as timestamptz)) end;

create or replace table typed (
    source_file varchar,
    line_number bigint,
    member_index integer,
    event_id varchar,
    event_type varchar,
    event_name varchar,
    user_id varchar,
    anonymous_id varchar,
    occurred_at timestamp,
    received_at timestamp,
    page_path varchar,
    utm_source varchar,
    properties json,
    raw_line varchar,
    bad_json boolean
);

-- Read and parse in one pass; text is kept only for lines that are not JSON objects. A batch
-- envelope ({"batch": [...]}, ~3% of lines; a substring test spares the others a second parse)
-- becomes its members, one row each, numbered from 1 by member_index (0: a line that is one
-- message); a member inherits the envelope's other fields (context, sentAt, receivedAt) by a JSON
-- merge patch of the member over them.
insert into typed by name
with lines as (
    select
        source_file,
        line_number,
        raw_line,
        coalesce(json_valid(raw_line) and ltrim(raw_line)[1] = '{', false) as ok
    from ({landing})
    where raw_line is not null and trim(raw_line) <> ''
),

batches as (
    select *, case when members is not null then json_merge_patch(raw_line, '{"batch": null}') end as envelope
    from (
        select *, case when ok and contains(raw_line, '"batch"')
            then nullif(json_extract(raw_line, '$.batch[*]')::varchar[], []) end as members
        from lines
    )
),

messages as (
    select
        source_file,
        line_number,
        ok,
        envelope,
        unnest(coalesce(members, [raw_line])) as member,
        generate_subscripts(coalesce(members, [raw_line]), 1) as position
    from batches
),

parsed as (
    select
        source_file,
        line_number,
        member_index,
        case when ok then json_extract_string(message, [
            '$.messageId', '$.type', '$.event', '$.userId', '$.anonymousId', '$.timestamp', '$.receivedAt',
            '$.context.page.path', '$.context.campaign.source', '$.originalTimestamp', '$.sentAt'
        ]) end as f,
        case when ok then json_extract(message, '$.properties') end as properties,
        case when not ok then message end as raw_line
    from (
        select *, case when envelope is null then 0 else position end as member_index,
            case when envelope is null then member else json_merge_patch(envelope, member)::varchar end as message
        from messages
    )
),

received as (
    select *, utc_time(f[7]) as received_at from parsed
)

select
    source_file,
    line_number,
    member_index,
    nullif(f[1], '') as event_id,
    f[2] as event_type,
    -- the funnel's steps also under their Segment e-commerce spec names (tracking_plan.yml `source_names`)
    case f[2]
        when 'track' then case f[3] when 'Product Viewed' then 'product_viewed' when 'Product Added' then 'product_added'
            when 'Checkout Started' then 'checkout_started' when 'Order Completed' then 'order_completed' else f[3] end
        when 'page' then 'page_viewed' when 'screen' then 'screen_viewed' when 'identify' then 'user_identified'
        when 'group' then 'group_identified' when 'alias' then 'user_aliased' end as event_name,
    nullif(f[4], '') as user_id,
    nullif(f[5], '') as anonymous_id,
    -- `timestamp`; else originalTimestamp corrected by the client's clock error, receivedAt - (sentAt -
    -- originalTimestamp); else originalTimestamp alone
    coalesce(utc_time(f[6]), received_at - (utc_time(f[11]) - utc_time(f[10])), utc_time(f[10])) as occurred_at,
    received_at,
    f[8] as page_path,
    f[9] as utm_source,
    properties,
    raw_line,
    f is null as bad_json
from received;

create or replace table rejected as
select * from typed
where bad_json or event_id is null or (user_id is null and anonymous_id is null)
    or occurred_at is null or received_at is null or event_name is null;

create or replace table dup_losers as
with repeated as (
    select event_id from typed where not bad_json and event_id is not null group by 1 having count(*) > 1
)
select source_file, line_number, member_index
from (
    select source_file, line_number, member_index,
        row_number() over (partition by event_id order by received_at, source_file, line_number, member_index) as r
    from typed where event_id in (select event_id from repeated)
) where r > 1;

create or replace table events as
select t.* exclude (raw_line, bad_json),
    coalesce(anonymous_id, 'u:' || user_id) as partition_key
from typed as t
anti join rejected using (source_file, line_number, member_index)
anti join dup_losers using (source_file, line_number, member_index);

create or replace table identity_map as
select anonymous_id, arg_max(user_id, (occurred_at, received_at, event_id)) as user_id
from events where anonymous_id is not null and user_id is not null
group by 1;

create or replace table sessionized as
with keyed as (
    select e.*, coalesce(e.user_id, m.user_id, e.anonymous_id) as user_key,
        case when lag(occurred_at) over w is null
            or occurred_at > lag(occurred_at) over w + interval 30 minute then 1 else 0 end as is_start
    from events as e left join identity_map as m on e.user_id is null and e.anonymous_id = m.anonymous_id
    window w as (partition by partition_key order by occurred_at, event_id)
)
select *, sum(is_start) over (partition by partition_key order by occurred_at, event_id
    rows between unbounded preceding and current row) as session_index
from keyed;

create or replace table sessions as
select partition_key, session_index, md5(partition_key || '|' || min(event_id)) as session_id,
    arg_max(user_key, (occurred_at, event_id)) as user_key,
    min(occurred_at) as started_at, max(occurred_at) as ended_at, count(*) as event_count,
    arg_min(page_path, (occurred_at, event_id)) as landing_page_path,
    arg_min(utm_source, (occurred_at, event_id)) as utm_source
from sessionized group by 1, 2;

create or replace table funnel as
with s1 as (select user_key, occurred_at as t1 from sessionized where event_name = 'product_viewed'),
s2e as (select user_key, occurred_at from sessionized where event_name = 'product_added'),
s3e as (select user_key, occurred_at from sessionized where event_name = 'checkout_started'),
s4e as (select user_key, occurred_at from sessionized where event_name = 'order_completed'),
s2 as (select s1.*, case when b.occurred_at <= t1 + interval 7 day then b.occurred_at end as t2
    from s1 asof left join s2e as b on s1.user_key = b.user_key and s1.t1 < b.occurred_at),
s3 as (select s2.*, case when b.occurred_at <= t1 + interval 7 day then b.occurred_at end as t3
    from s2 asof left join s3e as b on s2.user_key = b.user_key and s2.t2 < b.occurred_at),
s4 as (select s3.*, case when b.occurred_at <= t1 + interval 7 day then b.occurred_at end as t4
    from s3 asof left join s4e as b on s3.user_key = b.user_key and s3.t3 < b.occurred_at)
select user_key, max((t2 is not null)::int + (t3 is not null)::int + (t4 is not null)::int + 1) as level
from s4 group by 1;

create or replace table retention as
with firsts as (select user_key, date_trunc('week', min(occurred_at)) as cohort from sessionized group by 1),
active as (select distinct user_key, date_trunc('week', occurred_at) as week from sessionized)
select cohort, datediff('day', cohort, week) // 7 as period_offset, count(*) as active_users
from firsts join active using (user_key) group by 1, 2;
