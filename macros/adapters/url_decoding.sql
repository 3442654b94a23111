{#- Percent-decoded text; a malformed escape stays as it was written. -#}
{% macro url_decoded(text) -%}
    {{ return(adapter.dispatch('url_decoded', 'event_analytics')(text)) }}
{%- endmacro %}

{% macro default__url_decoded(text) -%}
    url_decode({{ text }})
{%- endmacro %}

{#- Spark's url_decode fails on a malformed escape, where DuckDB's keeps the text. -#}
{% macro spark__url_decoded(text) -%}
    coalesce(try_url_decode({{ text }}), {{ text }})
{%- endmacro %}
