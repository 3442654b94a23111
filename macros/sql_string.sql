{#- A value as a quoted SQL string literal. -#}
{% macro sql_string(value) -%}
    '{{ (value | string).replace("'", "''") }}'
{%- endmacro %}

{#- Values as a comma-separated list of SQL string literals, for `in (...)`. -#}
{% macro sql_list(values) -%}
    {%- for value in values %}{{ sql_string(value) }}{{ ', ' if not loop.last }}{% endfor -%}
{%- endmacro %}
