{#-
  Quarantine (and staging, for its rejected lines) keeps lines verbatim, personal data included, so
  a person can see why they were rejected; after var quarantine_retention_days (default 30) their
  text goes, on every run: rows,
  reasons and positions stay (every line is still accounted for), `raw_line` and `raw_bytes` become
  null. `stamp_column` says when the row was written. The landing files stay the originals: a
  --full-refresh rereads them and so brings the text back until the next run past the retention.
-#}
{% macro expire_quarantine_text(stamp_column, text_columns) -%}
    {{ return(adapter.dispatch('expire_quarantine_text', 'event_analytics')(stamp_column, text_columns)) }}
{%- endmacro %}

{% macro default__expire_quarantine_text(stamp_column, text_columns) -%}
    update {{ this }}
    set {% for column in text_columns %}{{ column }} = null{{ ', ' if not loop.last }}{% endfor %}
    where
        {{ quarantine_text_expired(stamp_column) }}
        and ({% for column in text_columns %}{{ column }} is not null{{ ' or ' if not loop.last }}{% endfor %})
{%- endmacro %}

{#- Spark's file tables have no UPDATE: when a row's text has expired, the table is written again
    (replace_table_rows). -#}
{% macro spark__expire_quarantine_text(stamp_column, text_columns) -%}
    {%- set expired -%}
        {{ quarantine_text_expired(stamp_column) }}
        and ({% for column in text_columns %}{{ column }} is not null{{ ' or ' if not loop.last }}{% endfor %})
    {%- endset -%}
    {%- if execute and run_query('select count(*) from ' ~ this ~ ' where ' ~ expired).columns[0].values()[0] > 0 -%}
        {%- set kept = [] -%}
        {%- for column in adapter.get_columns_in_relation(this) | map(attribute='name') -%}
            {%- if column in text_columns -%}
                {%- do kept.append('case when ' ~ expired ~ ' then null else ' ~ column ~ ' end as ' ~ column) -%}
            {%- else -%}
                {%- do kept.append(column) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- do replace_table_rows(this, ['select ' ~ kept | join(', ') ~ ' from ' ~ this]) -%}
    {%- endif -%}
{%- endmacro %}

{#- Whether a quarantine row written at `stamp_column` is past the retention (SQL). -#}
{% macro quarantine_text_expired(stamp_column) -%}
    {%- set days = var('quarantine_retention_days') -%}
    {%- if days is not number or days is boolean or days < 0 or days != days | int -%}
        {{ exceptions.raise_compiler_error("quarantine_retention_days must be a whole number of days >= 0, not " ~ (days | tojson)) }}
    {%- endif -%}
    ({{ stamp_column }} < {{ time_add('day', -1 * (days | int), run_timestamp()) }})
{%- endmacro %}
