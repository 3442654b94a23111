{#- Marts, quarantine and staging land in schemas named exactly as configured (`marts.fct_events`),
    not dbt's default `<target>_<custom>`: BI tools and the data contract address them by these names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
