{#-
  dbt-spark checks an incremental model's strategy before it looks at the table, and knows no
  delete+insert (what the models keyed by a column use on DuckDB). A build of the whole table
  (none yet, or --full-refresh) uses no strategy at all: it is let through here. An incremental
  run of such a model on Spark is refused, naming the model, until the strategy is ported.
  Overrides dbt-spark's macro of the same name (the root project's macros come first).
-#}
{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) %}
    {%- if raw_strategy == 'delete+insert' -%}
        {%- if should_full_refresh() or load_relation(this) is none -%}
            {{ return(raw_strategy) }}
        {%- endif -%}
        {{ exceptions.raise_compiler_error(
            this ~ ": incremental_strategy delete+insert is not ported to Spark; build it with --full-refresh"
        ) }}
    {%- endif -%}
    {{ return(dbt.dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format)) }}
{% endmacro %}
