{#-
  One row per order (order_completed, Segment's e-commerce spec): its first send by order_id,
  revenue as the order reported it (excluding shipping and tax), the channel of the session it
  was placed in, whether it was its user's first order, and what its refunds (order_refunded)
  took back so far.
-#}

with

orders as (
    select * from {{ ref('int_commerce__orders') }}
),

refunds as (
    select * from {{ ref('int_commerce__refunds') }}
),

refunded as (
    select
        order_id,
        {{ money_sum('refund_amount') }} as refunded_revenue
    from refunds
    where is_known_order
    group by order_id
)

select
    orders.order_id,
    orders.user_key,
    orders.session_id,
    orders.occurred_at,
    orders.revenue,
    orders.currency,
    orders.coupon,
    orders.products_count,
    orders.channel_group,
    orders.is_first_order,
    {{ money_value('coalesce(refunded.refunded_revenue, 0)') }} as refunded_revenue
from orders
left join refunded on orders.order_id = refunded.order_id
