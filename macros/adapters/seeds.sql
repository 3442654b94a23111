{#- dbt-spark's session cursor pastes a seed's values into its SQL as '<value>', unescaped: a value
    with a quote or a backslash (a pattern of seeds/user_agent_patterns.csv) breaks the insert or
    changes. Each value is written as a literal here instead. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {%- for row in chunk %}
                (
                {%- for value in row -%}
                    {%- set name = agate_table.column_names[loop.index0] -%}
                    {%- set type = column_override.get(name, adapter.convert_type(agate_table, loop.index0)) -%}
                    cast({{ 'null' if value is none else sql_string(value) }} as {{ type }}){{ ', ' if not loop.last }}
                {%- endfor -%}
                ){{ ',' if not loop.last }}
            {%- endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- do statements.append(sql) -%}
    {%- endfor -%}
    {{ return(statements[0] if statements else '') }}
{% endmacro %}
