{#- The host of a URL, lower case, without user info or port, and without a leading `www.` when
    `without_www`; null when it has none (not an absolute URL). One regular expression that RE2
    (DuckDB) and Java (Spark) read alike, so both engines agree on every URL: Spark's parse_url
    gives no host at all for a URL that java.net.URI rejects (a space, a bad %-escape). The
    pattern is written by sql_string, as each engine reads a backslash. -#}
{% macro url_host(url, without_www=false) -%}
    {{ return(adapter.dispatch('url_host', 'event_analytics')(url, without_www)) }}
{%- endmacro %}

{% macro default__url_host(url, without_www) -%}
    nullif(lower(regexp_extract(
        {{ url }},
        {{ sql_string(
            '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?'
            ~ ('(?:[Ww][Ww][Ww]\\.)?' if without_www else '')
            ~ '([^/?#:]+)'
        ) }},
        1
    )), '')
{%- endmacro %}
