{#-
  LTV curves: per cohort (the Monday week of the users' first event, dim_users.first_seen_at) and
  currency, the net revenue (orders less refunds) the cohort's users brought in each week since
  their own first event (week n: [first_seen_at + 7n days, first_seen_at + 7(n+1) days)), and
  its running total, also per cohort user (every user of the cohort, buyer or not; users with
  no event but a bot's are in no cohort). One row per
  cohort, currency and week from 0 to the last week the data reaches for the cohort, zero-filled;
  currencies are never added up. A refund counts in the week it happens, for its order's user.
-#}

with

-- a crawler is nobody's customer: users with no event but a bot's are in no cohort (as in
-- active_users and user_lifecycle)
human_users as (
    select distinct user_key
    from {{ ref('fct_events') }}
    where not coalesce(is_bot, false)
),

users as (
    select
        user_key,
        first_seen_at,
        last_seen_at,
        cast({{ dbt.date_trunc('week', 'first_seen_at') }} as date) as cohort_week
    from {{ ref('dim_users') }}
    where user_key in (select human_users.user_key from human_users)
),

orders as (
    select * from {{ ref('int_commerce__orders') }}
),

refunds as (
    select * from {{ ref('int_commerce__refunds') }}
),

money as (
    select
        user_key,
        occurred_at,
        currency,
        revenue as amount,
        true as is_order
    from orders
    union all
    select
        coalesce(order_user_key, user_key) as user_key,
        occurred_at,
        currency,
        -refund_amount as amount,
        false as is_order
    from refunds
),

user_money as (
    select
        money.*,
        users.cohort_week,
        users.first_seen_at
    from money
    inner join users on money.user_key = users.user_key
),

user_weeks as (
    select
        cohort_week,
        currency,
        user_key,
        amount,
        is_order,
        cast(floor(
            {{ time_diff('first_seen_at', 'occurred_at', 'millisecond') }}
            / 604800000.0
        ) as integer) as weeks_since_first_seen
    from user_money
),

data_end as (
    select max(last_seen_at) as last_seen_at from users
),

cohort_sizes as (
    select
        cohort_week,
        count(*) as cohort_users
    from users
    group by cohort_week
),

-- the last week the data reaches for a cohort: its first user's, from the cohort's Monday
cohorts as (
    select
        cohort_sizes.*,
        data_end.last_seen_at
    from cohort_sizes
    cross join data_end
),

cohort_spans as (
    select
        cohort_week,
        cohort_users,
        cast(floor(
            {{ time_diff('cohort_week', 'last_seen_at', 'day') }}
            / 7
        ) as integer) as last_week
    from cohorts
),

currencies as (
    select distinct currency from money
),

grid as (
    select
        cohort_spans.cohort_week,
        cohort_spans.cohort_users,
        currencies.currency,
        {{ unnest_list(integer_range('0', 'cohort_spans.last_week + 1')) }} as weeks_since_first_seen
    from cohort_spans
    cross join currencies
),

weekly as (
    select
        cohort_week,
        currency,
        weeks_since_first_seen,
        {{ money_sum('amount') }} as revenue,
        count(distinct case when is_order then user_key end) as buyers
    from user_weeks
    group by cohort_week, currency, weeks_since_first_seen
),

filled as (
    select
        grid.cohort_week,
        grid.currency,
        grid.weeks_since_first_seen,
        grid.cohort_users,
        coalesce(weekly.buyers, 0) as buyers,
        coalesce(weekly.revenue, 0) as revenue
    from grid
    left join weekly
        on
            grid.cohort_week = weekly.cohort_week
            and grid.currency is not distinct from weekly.currency
            and grid.weeks_since_first_seen = weekly.weeks_since_first_seen
),

cumulative as (
    select
        *,
        sum(revenue) over (
            partition by cohort_week, currency
            order by weeks_since_first_seen
            rows between unbounded preceding and current row
        ) as cumulative_revenue
    from filled
)

select
    cohort_week,
    currency,
    cast(weeks_since_first_seen as integer) as weeks_since_first_seen,
    cast(cohort_users as integer) as cohort_users,
    cast(buyers as integer) as buyers,
    {{ money_value('revenue') }} as revenue,
    {{ money_value('cumulative_revenue') }} as cumulative_revenue,
    {{ money_value('cumulative_revenue') }} / cohort_users as cumulative_revenue_per_user
from cumulative
