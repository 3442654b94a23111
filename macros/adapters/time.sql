{#- Date and time arithmetic as engines spell it. dbt's own dateadd and datediff are DuckDB's
    here (default__); dbt-spark's go through whole Unix seconds (losing the milliseconds of a
    timestamp) and raise on a null input, so Spark gets its own. -#}

{#- `value` (a date or timestamp) plus `interval` (an integer SQL expression) units of `datepart`
    (millisecond to year), as a timestamp; null when either is null. -#}
{% macro time_add(datepart, interval, value) -%}
    {{ return(adapter.dispatch('time_add', 'event_analytics')(datepart, interval, value)) }}
{%- endmacro %}

{% macro default__time_add(datepart, interval, value) -%}
    {{ dbt.dateadd(datepart, interval, value) }}
{%- endmacro %}

{% macro spark__time_add(datepart, interval, value) -%}
    {%- if datepart | lower not in ['millisecond', 'second', 'minute', 'hour', 'day', 'week', 'month', 'quarter', 'year'] -%}
        {{ exceptions.raise_compiler_error("time_add: unknown datepart " ~ datepart) }}
    {%- endif -%}
    timestampadd({{ datepart | upper }}, cast({{ interval }} as bigint), {{ value }})
{%- endmacro %}

{#- The `datepart` boundaries crossed from `first` to `second` (dates or timestamps): whole days
    between their dates, months between their months, milliseconds between their milliseconds
    (on Spark, for times after 1970: its div truncates). -#}
{% macro time_diff(first, second, datepart) -%}
    {{ return(adapter.dispatch('time_diff', 'event_analytics')(first, second, datepart)) }}
{%- endmacro %}

{% macro default__time_diff(first, second, datepart) -%}
    {{ dbt.datediff(first, second, datepart) }}
{%- endmacro %}

{% macro spark__time_diff(first, second, datepart) -%}
    {%- if datepart == 'day' -%}
        datediff(cast({{ second }} as date), cast({{ first }} as date))
    {%- elif datepart == 'month' -%}
        (
            (year({{ second }}) * 12 + month({{ second }}))
            - (year({{ first }}) * 12 + month({{ first }}))
        )
    {%- elif datepart == 'millisecond' -%}
        (
            unix_micros(cast({{ second }} as timestamp)) div 1000
            - unix_micros(cast({{ first }} as timestamp)) div 1000
        )
    {%- else -%}
        {{ exceptions.raise_compiler_error("time_diff: datepart " ~ datepart ~ " is not ported to Spark") }}
    {%- endif -%}
{%- endmacro %}

{#- Integer division, truncating toward zero. -#}
{% macro integer_divide(dividend, divisor) -%}
    {{ return(adapter.dispatch('integer_divide', 'event_analytics')(dividend, divisor)) }}
{%- endmacro %}

{% macro default__integer_divide(dividend, divisor) -%}
    {{ dividend }} // {{ divisor }}
{%- endmacro %}

{% macro spark__integer_divide(dividend, divisor) -%}
    {{ dividend }} div {{ divisor }}
{%- endmacro %}

{#- A calendar field of a date: year, quarter, month, isoyear (the ISO week's year), week (ISO
    8601 week number) or isodow (1 = Monday ... 7 = Sunday). -#}
{% macro date_field(field, value) -%}
    {{ return(adapter.dispatch('date_field', 'event_analytics')(field, value)) }}
{%- endmacro %}

{% macro default__date_field(field, value) -%}
    extract({{ field }} from {{ value }})
{%- endmacro %}

{% macro spark__date_field(field, value) -%}
    {%- set fields = {
        'year': 'year', 'quarter': 'quarter', 'month': 'month',
        'isoyear': 'yearofweek', 'week': 'week', 'isodow': 'dayofweek_iso',
    } -%}
    extract({{ fields[field] }} from {{ value }})
{%- endmacro %}
