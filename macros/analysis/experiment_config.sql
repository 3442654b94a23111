{#- The guardrail events, checked: each becomes part of a column name. -#}
{% macro experiment_guardrail_events() %}
    {%- set events = var('experiment_guardrail_events') or [] -%}
    {%- for event in events -%}
        {%- if not modules.re.match('^[a-z][a-z0-9_]*$', event | string) -%}
            {{ exceptions.raise_compiler_error("experiment_guardrail_events: not a snake_case event name: " ~ event) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(events) }}
{% endmacro %}

{#- A weight of experiment_expected_split, as a SQL number: a var is data, never SQL. -#}
{% macro split_weight(weight) -%}
    {%- if weight is not number or weight is boolean or weight < 0 -%}
        {{ exceptions.raise_compiler_error("experiment_expected_split: a weight must be a number >= 0, not " ~ (weight | tojson)) }}
    {%- endif -%}
    {{ return(weight | float) }}
{%- endmacro %}
