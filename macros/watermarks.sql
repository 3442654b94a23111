{#-
  Incremental bookkeeping. Every incremental model processes the upstream rows stamped (`_loaded_at` /
  `_processed_at`) after its own watermark, and moves the watermark in the same transaction as its
  insert (a post-hook runs inside the model's transaction). A run killed midway leaves each model's
  watermark where its last committed write put it, so the rerun picks up exactly what was missed.
  A model's own rows cannot serve as its watermark: a batch may legitimately produce none.
-#}

{% macro create_watermark_table() %}
    create schema if not exists meta;
    create table if not exists meta.incremental_watermarks (
        model_name varchar primary key,
        processed_through timestamp not null
    );
{% endmacro %}

{% macro run_timestamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}

{#- The run time up to which this model has already processed its inputs, as a SQL literal: a
    constant lets DuckDB skip old row groups by their min/max, where a subquery would scan them. -#}
{% macro watermark() -%}
    {%- set processed_through = '1970-01-01 00:00:00' -%}
    {%- if execute -%}
        {%- set query -%}
            select cast(max(processed_through) as varchar)
            from meta.incremental_watermarks
            where model_name = '{{ this.identifier }}'
        {%- endset -%}
        {%- set found = run_query(query).columns[0].values()[0] -%}
        {%- if found is not none -%}{%- set processed_through = found -%}{%- endif -%}
    {%- endif -%}
    cast('{{ processed_through }}' as timestamp)
{%- endmacro %}

{% macro record_watermark() %}
    insert or replace into meta.incremental_watermarks (model_name, processed_through)
    values ('{{ this.identifier }}', {{ run_timestamp() }})
{% endmacro %}
