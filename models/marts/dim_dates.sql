{#- The calendar: one row per day from the first event's day to a year after the last one's, so
    a BI tool can join any date column to weeks, months and quarters, and MetricFlow has its time
    spine. Weeks start on Monday (ISO 8601), as retention's weeks do. -#}

with

events as (

    select occurred_at from {{ ref('fct_events') }}

),

data_span as (

    -- With no events yet, the calendar runs from today.
    select
        coalesce(min(cast(occurred_at as date)), current_date) as first_day,
        coalesce(max(cast(occurred_at as date)), current_date) as last_day
    from events

),

days as (

    {{ date_range(
        '(select first_day from data_span)',
        time_add('year', 1, '(select last_day from data_span)'),
        'date_day',
    ) }}

),

calendar as (

    select
        date_day,
        cast({{ dbt.date_trunc('week', 'date_day') }} as date) as week_start,
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start,
        cast({{ dbt.date_trunc('quarter', 'date_day') }} as date) as quarter_start,
        cast({{ date_field('year', 'date_day') }} as integer) as year,
        cast({{ date_field('quarter', 'date_day') }} as integer) as quarter,
        cast({{ date_field('month', 'date_day') }} as integer) as month,
        cast({{ date_field('isoyear', 'date_day') }} as integer) as iso_year,
        cast({{ date_field('week', 'date_day') }} as integer) as iso_week,
        cast({{ date_field('isodow', 'date_day') }} as integer) as day_of_week
    from days

)

select
    date_day,
    week_start,
    month_start,
    quarter_start,
    year,
    quarter,
    month,
    iso_year,
    iso_week,
    day_of_week,
    day_of_week >= 6 as is_weekend
from calendar
