{#-
  Removing stored rows, as incremental models do before they add the ones they recomputed. DuckDB
  deletes them inside the model's transaction. Spark's file tables (Parquet, without Delta) have
  no DELETE, UPDATE or MERGE: the rows kept, and any added, are written to a new table, which then
  takes the old one's name (replace_table_rows).
-#}

{#- Deletes the rows of `relation` for which `condition` (SQL over its columns) is true. -#}
{% macro delete_rows(relation, condition) -%}
    {{ return(adapter.dispatch('delete_rows', 'event_analytics')(relation, condition)) }}
{%- endmacro %}

{% macro default__delete_rows(relation, condition) -%}
    delete from {{ relation }} where {{ condition }}
{%- endmacro %}

{#- A row whose condition is null stays, as DELETE keeps it. Nothing is written when no row goes. -#}
{% macro spark__delete_rows(relation, condition) -%}
    {%- if execute and run_query(
        'select count(*) from ' ~ relation ~ ' where ' ~ condition
    ).columns[0].values()[0] > 0 -%}
        {%- do replace_table_rows(relation, [
            'select * from ' ~ relation ~ ' where not coalesce((' ~ condition ~ '), false)'
        ]) -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#-
  Spark: `relation` becomes the rows of `selects` (queries with its columns, in order, which may
  read it). They are written to a new table of the same format, which replaces the old one by a
  drop and a rename. So the name always holds the old table, the new one, or (when a run stops
  between the two) none, which the next run builds whole, as a model never built: an interrupted
  run never leaves half a table behind. A Delta table (var spark_file_format) is overwritten in
  one transaction instead, which may read it (and keeps its history); static overwrite mode, as a
  failed partition overwrite may have left the session in dynamic mode.
-#}
{% macro replace_table_rows(relation, selects) %}
    {%- if config.get('file_format') == 'delta' -%}
        {%- do run_statements([
            'reset spark.sql.sources.partitionOverwriteMode',
            'insert overwrite table ' ~ relation ~ '\n' ~ selects | join('\nunion all\n'),
        ]) -%}
        {{ return('') }}
    {%- endif -%}
    {%- set next = relation.incorporate(path={'identifier': relation.identifier ~ '__next'}) -%}
    {%- set statements = ['drop table if exists ' ~ next, 'create table ' ~ next ~ ' like ' ~ relation] -%}
    {%- for select in selects -%}
        {%- do statements.append('insert into ' ~ next ~ '\n' ~ select) -%}
    {%- endfor -%}
    {%- do statements.extend(['drop table ' ~ relation, 'alter table ' ~ next ~ ' rename to ' ~ relation]) -%}
    {%- do run_statements(statements) -%}
{% endmacro %}
