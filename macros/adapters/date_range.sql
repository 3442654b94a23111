{#- One row per day from start_date to end_date (both date expressions, inclusive), as column
    `column_name`: the engine's own series generator, so the span needs no query at compile time
    (dbt.date_spine runs one). -#}
{% macro date_range(start_date, end_date, column_name) -%}
    {{ return(adapter.dispatch('date_range', 'event_analytics')(start_date, end_date, column_name)) }}
{%- endmacro %}

{% macro default__date_range(start_date, end_date, column_name) -%}
    select cast(unnest(generate_series({{ start_date }}, {{ end_date }}, interval 1 day)) as date) as {{ column_name }}
{%- endmacro %}

{% macro spark__date_range(start_date, end_date, column_name) -%}
    select explode(sequence(cast({{ start_date }} as date), cast({{ end_date }} as date), interval 1 day)) as {{ column_name }}
{%- endmacro %}
