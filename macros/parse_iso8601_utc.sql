{#-
  RFC 3339 date-time text to a UTC timestamp, or null; also a date-time without an offset, read as
  UTC whatever the session time zone. The shape is checked first, field by field (hours 00-23,
  offsets within +-23:59), because casts accept values a tracking pipeline must reject ('infinity',
  'epoch', 'now', bare dates, T24:00:00, +25:00); impossible dates such as 2024-02-30 fail the cast.
  RFC 3339 allows lowercase t and z, and a leap second :60, read as :59.999999 (no time type holds
  it). An offset without its colon (+0100) is ISO 8601's basic form, accepted as before.
-#}
{% macro parse_iso8601_utc(column) -%}
    {{ return(adapter.dispatch('parse_iso8601_utc', 'event_analytics')(column)) }}
{%- endmacro %}

{#- The shape of an RFC 3339 date-time (see above). -#}
{% macro iso8601_pattern() -%}
    {{ return('\\d{4}-\\d{2}-\\d{2}[Tt ]([01]\\d|2[0-3]):[0-5]\\d:([0-5]\\d|60)(\\.\\d{1,9})?([Zz]|[+-]([01]\\d|2[0-3]):?[0-5]\\d)?') }}
{%- endmacro %}

{% macro default__parse_iso8601_utc(column) -%}
    case
        when regexp_full_match({{ column }}, {{ sql_string(iso8601_pattern()) }})
            then timezone(
                'UTC',
                try_cast(
                    regexp_replace(
                        upper({{ column }}) || case when regexp_matches({{ column }}, '([Zz]|[+-]\d{2}:?\d{2})$') then '' else '+00:00' end,
                        ':60(\.\d+)?', ':59.999999'
                    ) as timestamptz
                )
            )
    end
{%- endmacro %}

{#- Spark reads the offset itself (the session's time zone is UTC, profiles/profiles.yml); its
    timestamps hold microseconds, as DuckDB's do. -#}
{% macro spark__parse_iso8601_utc(column) -%}
    case
        when {{ regex_full_match(column, iso8601_pattern()) }}
            then try_cast(
                regexp_replace(
                    upper({{ column }}) || case when {{ regex_contains(column, '([Zz]|[+-]\\d{2}:?\\d{2})$') }} then '' else '+00:00' end,
                    {{ sql_string(':60(\\.\\d+)?') }},
                    ':59.999999'
                ) as timestamp
            )
    end
{%- endmacro %}
