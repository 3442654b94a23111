{#-
  The models keyed by a column use delete+insert on DuckDB. dbt-spark knows no delete+insert (its
  merge needs Delta, Iceberg or Hudi), so on Spark's file tables it is built here from their own
  statements: the rows computed this run are written to a table, then the stored rows whose key
  they do not hold and those rows replace the model's table (replace_table_rows), or, when the table
  is partitioned (table_partitions), only its partitions that either side touches
  (replace_partitions). With var('spark_file_format') delta, a cluster's Delta Lake does it in one
  MERGE. The two macros below override dbt-spark's of the same names (the root project's macros
  come first).
-#}
{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) %}
    {%- if raw_strategy == 'delete+insert' -%}
        {{ return(raw_strategy) }}
    {%- endif -%}
    {{ return(dbt.dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format)) }}
{% endmacro %}

{% macro dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) %}
    {%- if strategy != 'delete+insert' -%}
        {{ return(dbt.dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates)) }}
    {%- endif -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- if config.get('file_format') == 'delta' -%}
        {{ return(merge_deleting_keys(source, target, keys)) }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='quoted') | join(', ') -%}
    {%- set computed = target.incorporate(path={'identifier': target.identifier ~ '__computed'}) -%}
    {%- set matched = [] -%}
    {%- for key in keys -%}
        {%- do matched.append('stored_rows.' ~ key ~ ' = computed_rows.' ~ key) -%}
    {%- endfor -%}
    {#- The model's query is read once, while the stored table is still whole. -#}
    {%- do run_statements([
        'drop table if exists ' ~ computed,
        'create table ' ~ computed ~ ' as select * from ' ~ source,
    ]) -%}
    {%- set rows = [
        'select stored_rows.* from ' ~ target ~ ' as stored_rows left anti join ' ~ computed
            ~ ' as computed_rows on ' ~ matched | join(' and '),
        'select ' ~ columns ~ ' from ' ~ computed,
    ] -%}
    {%- set partition = partitioned_by(target) -%}
    {%- if partition -%}
        {%- do replace_partitions(target, partition, [
            'select ' ~ partition ~ ' from ' ~ computed,
            'select stored_rows.' ~ partition ~ ' from ' ~ target ~ ' as stored_rows left semi join ' ~ computed
                ~ ' as computed_rows on ' ~ matched | join(' and '),
        ] | join('\nunion all\n'), rows) -%}
    {%- else -%}
        {%- do replace_table_rows(target, rows) -%}
    {%- endif -%}
    drop table {{ computed }}
{% endmacro %}

{#-
  delete+insert as one MERGE (var spark_file_format delta): each key of the computed rows once,
  which deletes the stored rows matching it, and every computed row with null keys, which match
  nothing and are inserted. A key may have several rows on either side, which an upsert MERGE
  refuses. The model's query is read twice. Spark's analyzer resolves this statement against a
  Parquet table (only running it needs Delta); not run here: these machines cannot fetch Delta's
  jars (README, "Moving to a cluster").
-#}
{% macro merge_deleting_keys(source, target, keys) %}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='quoted') | list -%}
    merge into {{ target }} as stored_rows
    using (
        select
            {%- for key in keys %}
                null as _merge_key_{{ loop.index }},
            {%- endfor %}
            struct(computed_rows.*) as _row,
            false as _deletes
        from {{ source }} as computed_rows
        union all
        select
            {%- for key in keys %}
                {{ key }} as _merge_key_{{ loop.index }},
            {%- endfor %}
            -- a null of the rows' type: only the keys are carried
            any_value(if(false, struct(computed_rows.*), null)) as _row,
            true as _deletes
        from {{ source }} as computed_rows
        group by {{ keys | join(', ') }}
    ) as changes
    on
        {%- for key in keys %}
            stored_rows.{{ key }} = changes._merge_key_{{ loop.index }}{{ ' and' if not loop.last }}
        {%- endfor %}
    when matched and changes._deletes then delete
    when not matched and not changes._deletes then
        insert ({{ columns | join(', ') }})
        values ({% for column in columns %}changes._row.{{ column }}{{ ', ' if not loop.last }}{% endfor %})
{% endmacro %}
