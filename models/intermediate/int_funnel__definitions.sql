{{ config(materialized='ephemeral') }}

{#- The configured funnels as rows: one per (funnel, step). -#}

{%- set funnels = funnel_definitions() %}

with

definitions as (
    {%- for funnel in funnels %}
        {%- set funnel_loop = loop %}
        {%- for step in funnel.steps %}
            select
                {{ sql_string(funnel.name) }} as funnel_name,
                {{ loop.index }} as step_index,
                {{ sql_string(step.label) }} as step_name,
                {{ funnel.steps | length }} as step_count,
                {{ funnel.window_days }} as window_days
            {% if not (loop.last and funnel_loop.last) %}union all{% endif %}
        {%- endfor %}
    {%- endfor %}
)

select * from definitions
