{#-
  Revenue per UTC day, channel group and currency: the day's orders (by their time, in their
  session's channel) and the refunds made that day (in their order's channel and currency, on the
  day of the refund, not of the order: a refund never rewrites a day already reported). Amounts
  in different currencies are never added up.
-#}

with

orders as (
    select * from {{ ref('int_commerce__orders') }}
),

refunds as (
    select * from {{ ref('int_commerce__refunds') }}
),

order_days as (
    select
        cast(occurred_at as date) as date_day,
        channel_group,
        currency,
        count(*) as orders,
        count(distinct user_key) as buyers,
        {{ money_sum('revenue') }} as gross_revenue
    from orders
    group by cast(occurred_at as date), channel_group, currency
),

refund_days as (
    select
        cast(occurred_at as date) as date_day,
        channel_group,
        currency,
        count(*) as refunds,
        {{ money_sum('refund_amount') }} as refunded_revenue
    from refunds
    group by cast(occurred_at as date), channel_group, currency
),

-- the (day, channel, currency) keys of either
day_keys as (
    select
        date_day,
        channel_group,
        currency
    from order_days
    union
    select
        date_day,
        channel_group,
        currency
    from refund_days
)

select
    day_keys.date_day,
    day_keys.channel_group,
    day_keys.currency,
    cast(coalesce(order_days.orders, 0) as integer) as orders,
    cast(coalesce(order_days.buyers, 0) as integer) as buyers,
    cast(coalesce(refund_days.refunds, 0) as integer) as refunds,
    {{ money_value('coalesce(order_days.gross_revenue, 0)') }} as gross_revenue,
    {{ money_value('coalesce(refund_days.refunded_revenue, 0)') }} as refunded_revenue,
    {{ money_value('coalesce(order_days.gross_revenue, 0) - coalesce(refund_days.refunded_revenue, 0)') }} as revenue,
    {{ money_value('order_days.gross_revenue') }} / nullif(order_days.orders, 0) as average_order_value
from day_keys
left join order_days
    on
        day_keys.date_day = order_days.date_day
        and day_keys.channel_group is not distinct from order_days.channel_group
        and day_keys.currency is not distinct from order_days.currency
left join refund_days
    on
        day_keys.date_day = refund_days.date_day
        and day_keys.channel_group is not distinct from refund_days.channel_group
        and day_keys.currency is not distinct from refund_days.currency
