{#-
  The models keyed by a column use delete+insert on DuckDB. dbt-spark knows no delete+insert (its
  merge needs Delta, Iceberg or Hudi), so on Spark it is built here from the file tables' own
  statements: the rows computed this run are written to a table, then the stored rows whose key
  they do not hold and those rows replace the model's table (replace_table_rows). The two macros
  below override dbt-spark's of the same names (the root project's macros come first).
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
    {%- do replace_table_rows(target, [
        'select stored_rows.* from ' ~ target ~ ' as stored_rows left anti join ' ~ computed
            ~ ' as computed_rows on ' ~ matched | join(' and '),
        'select ' ~ columns ~ ' from ' ~ computed,
    ]) -%}
    drop table {{ computed }}
{% endmacro %}
