{#- Our own stand-in for dbt_utils.unique_combination_of_columns (no packages can be fetched here).
    With `row_version` (the column stamping each row with the start of the run that wrote it), only
    the keys of rows written since this test last passed are checked, against every row: older rows
    were unique when it passed and change only by being rewritten, which stamps them again. Passes
    are recorded by record_test_passes (on-run-end); with none recorded (a new test, a new
    warehouse) or none older than it, every row is checked (changed_rows_since). -#}
{% test unique_combination_of_columns(model, columns, row_version=none) %}
    {%- set since = changed_rows_since(model, row_version) if row_version is not none else none %}
    select {{ columns | join(', ') }}
    from {{ model }}
    {% if since is not none -%}
        {#- a repeated key repeats its first column: filtering on that one is enough -#}
        where {{ columns[0] }} in (
            select {{ columns[0] }} from {{ model }}
            where {{ row_version }} > {{ since }}
        )
    {%- endif %}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
