{#- The `funnels` var, checked, with every step as {event, where, label}. -#}
{% macro funnel_definitions() %}
    {%- set funnels = [] -%}
    {%- set names = [] -%}
    {%- for funnel in var('funnels') -%}
        {%- if funnel.name is not defined or not modules.re.match('^[a-z][a-z0-9_]*$', funnel.name | string) -%}
            {{ exceptions.raise_compiler_error("funnels: every funnel needs a snake_case name, got " ~ funnel) }}
        {%- endif -%}
        {%- if funnel.name in names -%}
            {{ exceptions.raise_compiler_error("funnels: duplicate funnel name " ~ funnel.name) }}
        {%- endif -%}
        {%- do names.append(funnel.name) -%}
        {%- if not funnel.steps or funnel.steps | length < 2 -%}
            {{ exceptions.raise_compiler_error("funnels: " ~ funnel.name ~ " needs at least two steps") }}
        {%- endif -%}
        {%- if funnel.window_days is not number or funnel.window_days <= 0 -%}
            {{ exceptions.raise_compiler_error("funnels: " ~ funnel.name ~ " needs a positive window_days") }}
        {%- endif -%}
        {%- set steps = [] -%}
        {%- for step in funnel.steps -%}
            {%- if step is string -%}
                {%- do steps.append({'event': step, 'where': {}, 'label': step}) -%}
            {%- elif step is mapping and step.event is defined -%}
                {%- set where = step.get('where') or {} -%}
                {%- set conditions = [] -%}
                {%- for key, value in where.items() -%}
                    {%- do conditions.append(key ~ '=' ~ value) -%}
                {%- endfor -%}
                {%- set label = step.event ~ ('[' ~ conditions | join(', ') ~ ']' if conditions else '') -%}
                {%- do steps.append({'event': step.event, 'where': where, 'label': label}) -%}
            {%- else -%}
                {{ exceptions.raise_compiler_error("funnels: " ~ funnel.name ~ ": bad step " ~ step) }}
            {%- endif -%}
        {%- endfor -%}
        {%- do funnels.append({'name': funnel.name, 'window_days': funnel.window_days, 'steps': steps}) -%}
    {%- endfor -%}
    {{ return(funnels) }}
{% endmacro %}

{#- SQL condition on fct_events columns that an event matches a funnel step. -#}
{% macro funnel_step_condition(step) -%}
    event_name = {{ sql_string(step.event) }}
    {%- for key, value in step.where.items() %}
        and {{ json_field_text('properties', json_top_key_path(key)) }} = {{ sql_string(funnel_value_text(value)) }}
    {%- endfor %}
{%- endmacro %}

{#- A value as json_extract_string renders it: true/false for booleans, digits for numbers. -#}
{% macro funnel_value_text(value) -%}
    {%- if value is sameas true -%}true
    {%- elif value is sameas false -%}false
    {%- else -%}{{ value }}
    {%- endif -%}
{%- endmacro %}
