{{ config(materialized='table') }}

{#-
  One row per order_refunded event, netted on the day it happens (revenue_daily): its amount (the
  refund's total, else its products' value, else the whole order's revenue: a full refund), in
  its order's currency and channel (a refund's own currency wins when it gives one). A refund
  whose order is unknown (an order before the data, or no order_id) keeps its own currency and
  the channel of the session it happened in, and its amount when it gives one.
-#}

with

transactions as (
    select * from {{ ref('int_commerce__transactions') }}
),

orders as (
    select * from {{ ref('int_commerce__orders') }}
),

sessions as (
    select
        session_id,
        channel_group
    from {{ ref('fct_sessions') }}
),

refunds as (
    select * from transactions
    where transaction_type = 'refund'
)

select
    refunds.event_id,
    refunds.order_id,
    refunds.user_key,
    refunds.session_id,
    refunds.occurred_at,
    orders.user_key as order_user_key,
    coalesce(refunds.refund_amount, orders.revenue) as refund_amount,
    coalesce(refunds.currency, orders.currency) as currency,
    coalesce(orders.channel_group, sessions.channel_group) as channel_group,
    orders.order_id is not null as is_known_order
from refunds
left join orders on refunds.order_id = orders.order_id
left join sessions on refunds.session_id = sessions.session_id
