{#- Aggregates and row values as engines spell them. -#}

{#- A row value that sorts by its fields in order, for arg_max/arg_min and max/min: a tuple on
    DuckDB, a struct on Spark. The fields must not be null: DuckDB sorts a null field last,
    Spark first. -#}
{% macro sort_key(fields) -%}
    {{ return(adapter.dispatch('sort_key', 'event_analytics')(fields)) }}
{%- endmacro %}

{% macro default__sort_key(fields) -%}
    ({{ fields | join(', ') }})
{%- endmacro %}

{% macro spark__sort_key(fields) -%}
    struct({{ fields | join(', ') }})
{%- endmacro %}

{#- A row value with named fields (`fields`: name → SQL expression, in order), read back as
    `value.name`. -#}
{% macro named_row(fields) -%}
    {{ return(adapter.dispatch('named_row', 'event_analytics')(fields)) }}
{%- endmacro %}

{% macro default__named_row(fields) -%}
    {
        {%- for name, expression in fields.items() %}
            '{{ name }}': {{ expression }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    }
{%- endmacro %}

{% macro spark__named_row(fields) -%}
    named_struct(
        {%- for name, expression in fields.items() %}
            '{{ name }}', {{ expression }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    )
{%- endmacro %}

{#- `value` at the row of the greatest `key`, over the rows where value is not null (DuckDB's
    arg_max; Spark's max_by would return a null value). -#}
{% macro arg_max(value, key) -%}
    {{ return(adapter.dispatch('arg_max', 'event_analytics')(value, key)) }}
{%- endmacro %}

{% macro default__arg_max(value, key) -%}
    arg_max({{ value }}, {{ key }})
{%- endmacro %}

{% macro spark__arg_max(value, key) -%}
    max_by({{ value }}, case when ({{ value }}) is not null then {{ key }} end)
{%- endmacro %}

{#- `value` at the row of the least `key`, over the rows where value is not null. -#}
{% macro arg_min(value, key) -%}
    {{ return(adapter.dispatch('arg_min', 'event_analytics')(value, key)) }}
{%- endmacro %}

{% macro default__arg_min(value, key) -%}
    arg_min({{ value }}, {{ key }})
{%- endmacro %}

{% macro spark__arg_min(value, key) -%}
    min_by({{ value }}, case when ({{ value }}) is not null then {{ key }} end)
{%- endmacro %}

{#- `value` at the row of the least `key`, null when that row's value is null. -#}
{% macro arg_min_null(value, key) -%}
    {{ return(adapter.dispatch('arg_min_null', 'event_analytics')(value, key)) }}
{%- endmacro %}

{% macro default__arg_min_null(value, key) -%}
    arg_min_null({{ value }}, {{ key }})
{%- endmacro %}

{% macro spark__arg_min_null(value, key) -%}
    min_by({{ value }}, {{ key }})
{%- endmacro %}

{#- The last non-null value of `expression` in a window frame (followed by `over ...`). -#}
{% macro last_non_null(expression) -%}
    {{ return(adapter.dispatch('last_non_null', 'event_analytics')(expression)) }}
{%- endmacro %}

{% macro default__last_non_null(expression) -%}
    last_value(
        {{ expression }} ignore nulls
    )
{%- endmacro %}

{% macro spark__last_non_null(expression) -%}
    last_value(
        {{ expression }}
    ) ignore nulls
{%- endmacro %}
