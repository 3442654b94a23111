{#- Regular expressions as engines spell them. Patterns are constants (text literals): DuckDB
    compiles a constant pattern once per statement, a pattern from a column once per row. -#}

{#- Whether `pattern` occurs anywhere in `value` (null when value is null). -#}
{% macro regex_contains(value, pattern) -%}
    {{ return(adapter.dispatch('regex_contains')(value, pattern)) }}
{%- endmacro %}

{% macro default__regex_contains(value, pattern) -%}
    regexp_matches({{ value }}, {{ sql_string(pattern) }})
{%- endmacro %}

{% macro spark__regex_contains(value, pattern) -%}
    {{ value }} rlike {{ sql_string(pattern) }}
{%- endmacro %}

{#- Whether the whole of `value` matches `pattern`. -#}
{% macro regex_full_match(value, pattern) -%}
    {{ return(adapter.dispatch('regex_full_match')(value, pattern)) }}
{%- endmacro %}

{% macro default__regex_full_match(value, pattern) -%}
    regexp_full_match({{ value }}, {{ sql_string('(?:' ~ pattern ~ ')') }})
{%- endmacro %}

{#- Java's $ also matches before a final line break; \z is the end of the text, as RE2's $ is. -#}
{% macro spark__regex_full_match(value, pattern) -%}
    {{ value }} rlike {{ sql_string('^(?:' ~ pattern ~ ')\\z') }}
{%- endmacro %}

{#- `value` with every match of `pattern` replaced by the text `replacement` (no group references). -#}
{% macro regex_replace_all(value, pattern, replacement) -%}
    {{ return(adapter.dispatch('regex_replace_all', 'event_analytics')(value, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regex_replace_all(value, pattern, replacement) -%}
    regexp_replace({{ value }}, {{ sql_string(pattern) }}, {{ sql_string(replacement) }}, 'g')
{%- endmacro %}

{% macro spark__regex_replace_all(value, pattern, replacement) -%}
    regexp_replace({{ value }}, {{ sql_string(pattern) }}, {{ sql_string(replacement) }})
{%- endmacro %}
