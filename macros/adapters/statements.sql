{#- Several statements from one hook or macro: DuckDB runs them as one script, Spark's session
    cursor one statement at a time. Returns what is left to run as the hook's own SQL. -#}
{% macro run_statements(statements) -%}
    {{ return(adapter.dispatch('run_statements', 'event_analytics')(statements)) }}
{%- endmacro %}

{% macro default__run_statements(statements) -%}
    {{ return(statements | join(';\n')) }}
{%- endmacro %}

{% macro spark__run_statements(statements) -%}
    {%- for statement in statements if statement | trim %}
        {%- do run_query(statement) -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}

{#- One row of a meta table keyed by its first column (`values`: column → SQL expression): DuckDB
    replaces the key's row; Spark's file tables cannot, so the row is added and readers take the
    latest (max) of a key. -#}
{% macro upsert_meta_row(table, values) -%}
    {{ return(adapter.dispatch('upsert_meta_row', 'event_analytics')(table, values)) }}
{%- endmacro %}

{% macro default__upsert_meta_row(table, values) -%}
    insert or replace into {{ table }} ({{ values.keys() | join(', ') }})
    values ({{ values.values() | join(', ') }})
{%- endmacro %}

{% macro spark__upsert_meta_row(table, values) -%}
    insert into {{ table }} ({{ values.keys() | join(', ') }})
    values ({{ values.values() | join(', ') }})
{%- endmacro %}

{#-
  Spark compiles each stage of a plan to one Java method (whole-stage code generation). Staging's
  statement is too wide for it: the compile fails at Java's 64 KB method limit and Spark falls back
  to code generated per operator, having paid for the failed attempt in every task. Hooks turn it
  off for such a model's own statement (false) and then back to the session's setting (true).
  Staging at 100k events measured 90 s with it and 70 s without. Other engines: nothing.
-#}
{% macro whole_stage_codegen(enabled) -%}
    {{ return(adapter.dispatch('whole_stage_codegen', 'event_analytics')(enabled)) }}
{%- endmacro %}

{% macro default__whole_stage_codegen(enabled) -%}
{%- endmacro %}

{% macro spark__whole_stage_codegen(enabled) -%}
    {{ 'reset spark.sql.codegen.wholeStage' if enabled else 'set spark.sql.codegen.wholeStage = false' }}
{%- endmacro %}
