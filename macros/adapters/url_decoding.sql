{#- A query string's text decoded as a browser encodes it: a plus is a space (a phone number sent
    as 555+123+4567 must meet the phone pattern), %XX a byte. Text that does not decode (a
    malformed escape, bytes that are not UTF-8) stays as it was written. -#}
{% macro url_decoded(text) -%}
    {{ return(adapter.dispatch('url_decoded', 'event_analytics')(text)) }}
{%- endmacro %}

{#- DuckDB's url_decode fails the statement on bytes that are not UTF-8 (%C3x) and keeps a plus. -#}
{% macro default__url_decoded(text) -%}
    coalesce(try(url_decode(replace({{ text }}, '+', ' '))), {{ text }})
{%- endmacro %}

{#- Spark's url_decode fails on a malformed escape, where DuckDB's keeps the text. -#}
{% macro spark__url_decoded(text) -%}
    coalesce(try_url_decode({{ text }}), {{ text }})
{%- endmacro %}
