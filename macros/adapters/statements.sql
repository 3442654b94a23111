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
