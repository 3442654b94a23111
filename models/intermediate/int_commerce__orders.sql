{{ config(materialized='table') }}

{#-
  One row per order_id: its first order_completed event (by occurred_at, then event_id; a repeated
  send of an order is not a second order), with the channel of the session it happened in and
  whether it is its user's first order (the earliest of the user's orders, ties by order_id).
-#}

with

transactions as (
    select * from {{ ref('int_commerce__transactions') }}
),

sessions as (
    select
        session_id,
        channel_group
    from {{ ref('fct_sessions') }}
),

order_sends as (
    select
        *,
        row_number() over (partition by order_id order by occurred_at, event_id) as send_index
    from transactions
    where transaction_type = 'order'
),

first_sends as (
    select * from order_sends
    where send_index = 1
)

select
    first_sends.order_id,
    first_sends.event_id,
    first_sends.user_key,
    first_sends.session_id,
    first_sends.occurred_at,
    first_sends.revenue,
    first_sends.currency,
    first_sends.coupon,
    first_sends.products_count,
    sessions.channel_group,
    row_number() over (
        partition by first_sends.user_key order by first_sends.occurred_at, first_sends.order_id
    ) = 1 as is_first_order
from first_sends
left join sessions on first_sends.session_id = sessions.session_id
