{{ config(materialized='ephemeral') }}

{#- Events matching each step of each funnel (an event may match several steps). -#}

with

events as (
    select
        user_key,
        event_name,
        occurred_at,
        properties
    from {{ ref('fct_events') }}
)

{% for funnel in funnel_definitions() %}
    {%- set funnel_loop = loop %}
    {%- for step in funnel.steps %}
        select
            {{ sql_string(funnel.name) }} as funnel_name,
            {{ loop.index }} as step_index,
            user_key,
            occurred_at
        from events
        where {{ funnel_step_condition(step) }}
        {% if not (loop.last and funnel_loop.last) %}union all{% endif %}
    {%- endfor %}
{%- endfor %}
