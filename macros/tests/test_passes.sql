{#-
  When each incrementally scoped data test (unique_combination_of_columns with `row_version`) last
  passed: the start time of that run, keyed by the test's relation name (dbt derives it from the
  model and the test's arguments, so a new or changed test starts with no pass), in
  meta.data_test_passes (created by create_meta_tables).
-#}

{#- When the running test last passed, as a SQL literal, if `model` holds rows written before
    then; else none (never passed, or every row was rewritten since, as by a full refresh), and the
    test checks every row: filtering by the changed keys would then only cost more. -#}
{% macro changed_rows_since(model, row_version) -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {%- set query -%}
        select cast(max(passed_at) as {{ dbt.type_string() }}) from meta.data_test_passes
        where test_name = '{{ this.identifier }}'
    {%- endset -%}
    {%- set passes = run_query(query).columns[0].values() -%}
    {%- if not passes or passes[0] is none -%}{{ return(none) }}{%- endif -%}
    {%- set since = "cast('" ~ passes[0] ~ "' as timestamp)" -%}
    {%- set query -%}
        select count(*) from (select 1 from {{ model }} where {{ row_version }} <= {{ since }} limit 1) as older
    {%- endset -%}
    {{ return(since if run_query(query).columns[0].values()[0] > 0 else none) }}
{%- endmacro %}

{#- on-run-end: records this run's passes of scoped tests. A failed, errored or skipped test keeps
    its older pass, so the next run checks again every row written since. -#}
{% macro record_test_passes(results) %}
    {%- set passed = [] -%}
    {%- for result in results -%}
        {%- set node = result.node -%}
        {%- if node.resource_type == 'test' and result.status == 'pass' and node.test_metadata is defined
            and node.test_metadata.kwargs.get('row_version') -%}
            {%- do passed.append(node.alias) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for name in passed -%}
        {%- do statements.append(upsert_meta_row('meta.data_test_passes', {'test_name': sql_string(name), 'passed_at': run_timestamp()})) -%}
    {%- endfor -%}
    {{ run_statements(statements) }}
{% endmacro %}
