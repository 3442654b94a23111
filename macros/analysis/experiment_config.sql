{#- A weight of experiment_expected_split, as a SQL number: a var is data, never SQL. -#}
{% macro split_weight(weight) -%}
    {%- if weight is not number or weight is boolean or weight < 0 -%}
        {{ exceptions.raise_compiler_error("experiment_expected_split: a weight must be a number >= 0, not " ~ (weight | tojson)) }}
    {%- endif -%}
    {{ return(weight | float) }}
{%- endmacro %}
