{#- A value as a quoted SQL string literal. -#}
{% macro sql_string(value) -%}
    {{ return(adapter.dispatch('sql_string', 'event_analytics')(value)) }}
{%- endmacro %}

{% macro default__sql_string(value) -%}
    {{ return("'" ~ (value | string).replace("'", "''") ~ "'") }}
{%- endmacro %}

{#- Spark's string literals take C-style escapes: a backslash (a regex's \d) is written doubled. -#}
{% macro spark__sql_string(value) -%}
    {{ return("'" ~ (value | string).replace('\\', '\\\\').replace("'", "\\'") ~ "'") }}
{%- endmacro %}

{#- Values as a comma-separated list of SQL string literals, for `in (...)`. -#}
{% macro sql_list(values) -%}
    {%- for value in values %}{{ sql_string(value) }}{{ ', ' if not loop.last }}{% endfor -%}
{%- endmacro %}
