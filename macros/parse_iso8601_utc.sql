{#-
  ISO-8601 text to a UTC timestamp, or null. The shape is checked first because casts accept values a
  tracking pipeline must reject ('infinity', 'epoch', 'now', bare dates); impossible dates such as
  2024-02-30 fail the cast. A value without an offset is read as UTC, whatever the session time zone.
-#}
{% macro parse_iso8601_utc(column) -%}
    {{ return(adapter.dispatch('parse_iso8601_utc', 'event_analytics')(column)) }}
{%- endmacro %}

{% macro default__parse_iso8601_utc(column) -%}
    case
        when regexp_full_match(
            {{ column }},
            '\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:?\d{2})?'
        )
            then timezone(
                'UTC',
                try_cast(
                    case
                        when regexp_matches({{ column }}, '([Zz]|[+-]\d{2}:?\d{2})$') then {{ column }}
                        else {{ column }} || '+00:00'
                    end as timestamptz
                )
            )
    end
{%- endmacro %}
