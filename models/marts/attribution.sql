{#-
  Marketing attribution of orders: one row per (order, session of its user that started in the
  var attribution_lookback_days days up to the order, the order's own session included), so any
  model is a sum over these rows.
  - First touch: the earliest non-Direct session in the window; last touch: the latest non-Direct
    session up to the order (Google's "last non-direct click": a direct visit in between takes
    no credit). With only Direct sessions, the earliest (first) and the latest (last) Direct one.
  - Linear: every session in the window, Direct ones too, an equal share.
  Credits are fractions of the order (summing to 1 per order and model) and the matching share of
  its revenue. Sessions are the user's (stitched user_key) from every device.
-#}

with

orders as (
    select * from {{ ref('int_commerce__orders') }}
),

sessions as (
    select
        session_id,
        user_key,
        started_at,
        channel_group
    from {{ ref('fct_sessions') }}
),

touches as (
    select
        orders.order_id,
        orders.user_key,
        orders.occurred_at as ordered_at,
        orders.revenue,
        orders.currency,
        sessions.session_id,
        sessions.started_at as session_started_at,
        sessions.channel_group,
        sessions.channel_group != 'Direct' as is_non_direct
    from orders
    inner join sessions
        on
            orders.user_key = sessions.user_key
            and orders.occurred_at >= sessions.started_at
            and (
                sessions.started_at
                >= {{ time_add('day', -1 * var('attribution_lookback_days'), 'orders.occurred_at') }}
                or orders.session_id = sessions.session_id
            )
),

ranked as (
    select
        *,
        row_number() over order_touches as touch_index,
        count(*) over (partition by order_id) as touches,
        -- non-Direct sessions first, earliest first; and latest first
        row_number() over (
            partition by order_id
            order by is_non_direct desc, session_started_at asc, session_id asc
        ) as first_touch_rank,
        row_number() over (
            partition by order_id
            order by is_non_direct desc, session_started_at desc, session_id desc
        ) as last_touch_rank
    from touches
    window order_touches as (partition by order_id order by session_started_at, session_id)
),

credited as (
    select
        *,
        case when first_touch_rank = 1 then 1.0 else 0.0 end as first_touch_credit,
        case when last_touch_rank = 1 then 1.0 else 0.0 end as last_touch_credit,
        1 / cast(touches as double) as linear_credit
    from ranked
)

select
    order_id,
    user_key,
    ordered_at,
    currency,
    session_id,
    session_started_at,
    channel_group,
    cast(touch_index as integer) as touch_index,
    cast(touches as integer) as touches,
    cast(first_touch_credit as double) as first_touch_credit,
    cast(last_touch_credit as double) as last_touch_credit,
    cast(linear_credit as double) as linear_credit,
    max(case when first_touch_rank = 1 then channel_group end) over (partition by order_id) as first_touch_channel,
    max(case when last_touch_rank = 1 then channel_group end) over (partition by order_id) as last_touch_channel,
    first_touch_credit * revenue as first_touch_revenue,
    last_touch_credit * revenue as last_touch_revenue,
    linear_credit * revenue as linear_revenue
from credited
