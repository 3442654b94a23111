{#- The host of a URL, lower case, without user info or port, and without a leading `www.` when
    `without_www`; null when it has none (not an absolute URL). -#}
{% macro url_host(url, without_www=false) -%}
    {{ return(adapter.dispatch('url_host')(url, without_www)) }}
{%- endmacro %}

{% macro default__url_host(url, without_www) -%}
    nullif(lower(regexp_extract(
        {{ url }},
        '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?{{ "(?:[Ww][Ww][Ww]\.)?" if without_www }}([^/?#:]+)',
        1
    )), '')
{%- endmacro %}

{% macro spark__url_host(url, without_www) -%}
    {%- if without_www -%}
        regexp_replace(lower(parse_url({{ url }}, 'HOST')), '^www\\.', '')
    {%- else -%}
        lower(parse_url({{ url }}, 'HOST'))
    {%- endif -%}
{%- endmacro %}
