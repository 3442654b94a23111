{#-
  A full build of int_events__sessionized runs as several statements, each over the partitions of
  one hash bucket of partition_key (a partition's events never span buckets), at most
  var('sessionize_events_per_statement') events each: joining the session columns back to the wide
  rows of 50M events in one statement spilled 44 GB to disk and took 326-511 s; one fifth of them
  took 41 s and spilled 2.9 GB (measured). At 10M one statement (24 s) beat two (42 s).
  The model's own statement takes bucket 0; the post-hook repeats its compiled SQL for the others.
-#}

{% macro sessionize_buckets() -%}
    {#- unit tests read fixtures, not the warehouse -#}
    {%- set in_warehouse = execute and model.resource_type != 'unit_test' -%}
    {%- set events_relation = load_relation(ref('int_events__deduplicated')) if in_warehouse else none -%}
    {%- if events_relation is none or is_incremental() -%}{{ return(1) }}{%- endif -%}
    {%- set query -%}
        select count(*) from {{ events_relation }}
    {%- endset -%}
    {%- set events = run_query(query).columns[0].values()[0] -%}
    {{ return([1, (events / var('sessionize_events_per_statement')) | round(0, 'ceil') | int] | max) }}
{%- endmacro %}

{#- The filter of bucket 0 of `buckets`; the comment marks the bucket number for the post-hook. -#}
{% macro sessionize_bucket_filter(partition_key, buckets) -%}
    {{ adapter.dispatch('partition_bucket', 'event_analytics')(partition_key, buckets) }} = /* bucket */ 0
{%- endmacro %}

{% macro default__partition_bucket(expression, buckets) -%}
    hash({{ expression }}) % {{ buckets }}
{%- endmacro %}

{% macro spark__partition_bucket(expression, buckets) -%}
    pmod(hash({{ expression }}), {{ buckets }})
{%- endmacro %}

{#- One statement a bucket (run_statements: Spark's cursor takes one statement at a time). -#}
{% macro sessionize_remaining_buckets() %}
    {%- set buckets = sessionize_buckets() -%}
    {%- set statements = [] -%}
    {%- for bucket in range(1, buckets) %}
        {%- do statements.append(
            'insert into ' ~ this ~ ' by name\n'
            ~ model.compiled_code | replace('/* bucket */ 0', '/* bucket */ ' ~ bucket)
        ) %}
    {%- endfor %}
    {{ run_statements(statements) }}
{% endmacro %}

{#- What int_events__sessionized's stored sessions follow: its watermark is keyed by it, so a change
    (or a change back) re-sessionizes every device on the next run. -#}
{% macro sessionize_settings() -%}
    {{ return({'session_timeout_minutes': var('session_timeout_minutes')}) }}
{%- endmacro %}
