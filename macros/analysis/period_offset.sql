{#- Whole periods from one period start (a date) to another: days, Monday weeks or months. -#}
{% macro period_offset(from_period, to_period, grain) -%}
    {%- if grain == 'month' -%}
        {{ time_diff(from_period, to_period, 'month') }}
    {%- elif grain == 'week' -%}
        {{ integer_divide(time_diff(from_period, to_period, 'day'), 7) }}
    {%- else -%}
        {{ time_diff(from_period, to_period, 'day') }}
    {%- endif -%}
{%- endmacro %}
