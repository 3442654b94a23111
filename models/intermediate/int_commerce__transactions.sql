{{ config(materialized='table') }}

{#-
  The tracking plan's order events, their properties read once: one row per order_completed
  (transaction_type order) or order_refunded (refund) event. Segment's e-commerce spec: an
  order's `revenue` excludes shipping and tax (what revenue means here); a refund's `total` is the
  amount refunded, else the price × quantity of the `products` it lists (a partial refund), else
  unknown (int_commerce__refunds then takes the whole order: a full refund).
-#}

with

order_events as (
    select
        event_id,
        event_name,
        user_key,
        session_id,
        occurred_at,
        properties
    from {{ ref('int_events__sessionized') }}
    where event_name in ('order_completed', 'order_refunded')
)

select
    event_id,
    case event_name when 'order_completed' then 'order' else 'refund' end as transaction_type,
    -- an order without an id (possible in flag mode) is an order of its own; a refund without one
    -- names no order
    case
        when event_name = 'order_completed' then coalesce({{ json_field_text('properties', '$.order_id') }}, event_id)
        else {{ json_field_text('properties', '$.order_id') }}
    end as order_id,
    user_key,
    session_id,
    occurred_at,
    case when event_name = 'order_completed' then {{ json_number('properties', '$.revenue') }} end as revenue,
    case
        when event_name = 'order_refunded'
            then coalesce(
                {{ json_number('properties', '$.total') }},
                {{ json_products_value('properties', '$.products') }}
            )
    end as refund_amount,
    upper(nullif(trim({{ json_field_text('properties', '$.currency') }}), '')) as currency,
    nullif(trim({{ json_field_text('properties', '$.coupon') }}), '') as coupon,
    {{ json_array_size('properties', '$.products') }} as products_count
from order_events
