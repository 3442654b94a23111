{#-
  Reference data: the seeds under seeds/ (seeds/_seeds.yml), read three ways.

  - As a relation to join (`reference_relation`): the seed's table, which `dbt build` (what every
    `event-analytics run` runs) loads before the models that read it. A `dbt run` loads no seed: on
    a warehouse where the seed was never loaded it reads the CSV file itself, with the seed's column
    types. In a unit test, dbt's own input for the seed (its CSV file when the test gives none).
  - As rows at compile time (`reference_rows`), for the rule seeds: their regular expressions
    become one CASE expression of constant patterns, compiled once per statement. A pattern read
    from a column is compiled again for every row it meets (measured on DuckDB 2.0.1: 20k user
    agents against 60 pattern rows, 25 s; as constants, well under a second).
  - As settings (`reference_settings`): what an incremental model's stored rows were computed
    with. Its watermark is keyed by them (macros/watermarks.sql), so a changed seed recomputes
    every row on the next run, and so does changing it back.
-#}

{% macro reference_relation(seed_name) -%}
    {%- set seed_relation = ref(seed_name) -%}
    {%- if not execute or model.resource_type == 'unit_test' or load_relation(seed_relation) is not none -%}
        {{ return(seed_relation) }}
    {%- endif -%}
    {{ return(seed_file_query(seed_name)) }}
{%- endmacro %}

{#- The seed's rows as dicts of text values (null as none), ordered by `order_by` (cast to an
    integer when `numeric`). In a unit test too these are the seed's own rows: the shipped rules
    are what the tests pin. -#}
{% macro reference_rows(seed_name, order_by='rule_order', numeric=true) %}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set seed = seed_location(seed_name) -%}
    {%- set relation = adapter.get_relation(database=seed.database, schema=seed.schema, identifier=seed.alias) -%}
    {%- set source = relation if relation is not none else seed_file_query(seed_name) -%}
    {%- set order = 'cast(' ~ order_by ~ ' as integer)' if numeric else order_by -%}
    {%- set result = run_query('select * from ' ~ source ~ ' as seed_rows order by ' ~ order) -%}
    {%- set rows = [] -%}
    {%- for row in result.rows -%}
        {%- set values = {} -%}
        {%- for column in result.column_names -%}
            {%- do values.update({column: none if row[column] is none else (row[column] | string)}) -%}
        {%- endfor -%}
        {%- do rows.append(values) -%}
    {%- endfor -%}
    {{ return(rows) }}
{% endmacro %}

{#- The reference data a model's rows follow, for its watermark (watermark(settings)): each named
    seed's rows, in the order of their key column. -#}
{% macro reference_settings(seed_keys) %}
    {%- set settings = {} -%}
    {%- for seed_name, key in seed_keys.items() -%}
        {%- do settings.update({seed_name: reference_rows(seed_name, key, numeric=(key == 'rule_order'))}) -%}
    {%- endfor -%}
    {{ return(settings) }}
{% endmacro %}

{#- Where the seed lives: its table and its file, with its column types. Unit tests are compiled
    without dbt's graph: there, the project's own layout (seeds/<name>.csv, loaded into the schema
    dbt_project.yml gives seeds). -#}
{% macro seed_location(seed_name) %}
    {%- set node = (graph.get('nodes') or {}).get('seed.' ~ project_name ~ '.' ~ seed_name) -%}
    {%- if node is not none -%}
        {{ return({
            'database': node.database,
            'schema': node.schema,
            'alias': node.alias,
            'path': node.root_path ~ '/' ~ node.original_file_path,
            'column_types': node.config.column_types,
        }) }}
    {%- endif -%}
    {{ return({
        'database': target.database,
        'schema': generate_schema_name('reference', none) | trim,
        'alias': seed_name,
        'path': 'seeds/' ~ seed_name ~ '.csv',
        'column_types': {},
    }) }}
{% endmacro %}

{#- The seed's CSV file as a query, each column cast to its declared type (column_types). -#}
{% macro seed_file_query(seed_name) -%}
    {%- set seed = seed_location(seed_name) -%}
    {{ return(adapter.dispatch('seed_file_query', 'event_analytics')(seed.path, seed.column_types)) }}
{%- endmacro %}

{% macro default__seed_file_query(path, column_types) -%}
    (
        select
        {%- for column, data_type in column_types.items() %}
            cast("{{ column }}" as {{ data_type }}) as "{{ column }}"{{ ',' if not loop.last }}
        {%- else %}
            *
        {%- endfor %}
        from read_csv({{ sql_string(path) }}, header = true, all_varchar = true, quote = '"', escape = '"')
    )
{%- endmacro %}

{#- Spark SQL reads a CSV file only without its header (columns _c0, _c1, ...) and with
    backslash escapes: the seeds are loaded first instead (`dbt seed`, or `dbt build`, which every
    `event-analytics run` runs). -#}
{% macro spark__seed_file_query(path, column_types) -%}
    {{ exceptions.raise_compiler_error(
        "the seed " ~ path ~ " is not loaded into the warehouse: on Spark, load the seeds first (dbt seed or dbt build)"
    ) }}
{%- endmacro %}
