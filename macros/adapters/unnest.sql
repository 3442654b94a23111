{#- In a select list: one row per item of `list` (none for an empty or null list), with the item
    as `item_alias` and its 0-based position as `index_alias` (an integer). -#}
{% macro unnest_with_index(list, index_alias, item_alias) -%}
    {{ return(adapter.dispatch('unnest_with_index', 'event_analytics')(list, index_alias, item_alias)) }}
{%- endmacro %}

{% macro default__unnest_with_index(list, index_alias, item_alias) -%}
    cast(generate_subscripts({{ list }}, 1) - 1 as integer) as {{ index_alias }},
    unnest({{ list }}) as {{ item_alias }}
{%- endmacro %}

{% macro spark__unnest_with_index(list, index_alias, item_alias) -%}
    posexplode({{ list }}) as ({{ index_alias }}, {{ item_alias }})
{%- endmacro %}
