{#- Lists (DuckDB) and arrays (Spark). Positions are 1-based here, as DuckDB's are. -#}

{#- A list of the given SQL expressions. -#}
{% macro list_of(items) -%}
    {{ return(adapter.dispatch('list_of', 'event_analytics')(items)) }}
{%- endmacro %}

{% macro default__list_of(items) -%}
    [{{ items | join(', ') }}]
{%- endmacro %}

{% macro spark__list_of(items) -%}
    array({{ items | join(', ') }})
{%- endmacro %}

{#- The list with `item` added at its end. -#}
{% macro list_with_item(list, item) -%}
    {{ return(adapter.dispatch('list_with_item', 'event_analytics')(list, item)) }}
{%- endmacro %}

{% macro default__list_with_item(list, item) -%}
    list_append({{ list }}, {{ item }})
{%- endmacro %}

{% macro spark__list_with_item(list, item) -%}
    concat({{ list }}, array({{ item }}))
{%- endmacro %}

{#- Whether the list holds `item`. -#}
{% macro list_has(list, item) -%}
    {{ return(adapter.dispatch('list_has', 'event_analytics')(list, item)) }}
{%- endmacro %}

{% macro default__list_has(list, item) -%}
    list_contains({{ list }}, {{ item }})
{%- endmacro %}

{% macro spark__list_has(list, item) -%}
    array_contains({{ list }}, {{ item }})
{%- endmacro %}

{% macro list_length(list) -%}
    {{ return(adapter.dispatch('list_length', 'event_analytics')(list)) }}
{%- endmacro %}

{% macro default__list_length(list) -%}
    len({{ list }})
{%- endmacro %}

{% macro spark__list_length(list) -%}
    size({{ list }})
{%- endmacro %}

{#- The list from the first occurrence of `item` to its end (the item must occur). -#}
{% macro list_from_item(list, item) -%}
    {{ return(adapter.dispatch('list_from_item', 'event_analytics')(list, item)) }}
{%- endmacro %}

{% macro default__list_from_item(list, item) -%}
    {{ list }}[list_position({{ list }}, {{ item }}):]
{%- endmacro %}

{% macro spark__list_from_item(list, item) -%}
    slice({{ list }}, cast(array_position({{ list }}, {{ item }}) as integer), size({{ list }}))
{%- endmacro %}

{#- One row per item of the list, in a select list (no row for an empty or null list). -#}
{% macro unnest_list(list) -%}
    {{ return(adapter.dispatch('unnest_list', 'event_analytics')(list)) }}
{%- endmacro %}

{% macro default__unnest_list(list) -%}
    unnest({{ list }})
{%- endmacro %}

{% macro spark__unnest_list(list) -%}
    explode({{ list }})
{%- endmacro %}

{#- The integers from `start` up to `stop`, stop excluded (empty when stop <= start). -#}
{% macro integer_range(start, stop) -%}
    {{ return(adapter.dispatch('integer_range', 'event_analytics')(start, stop)) }}
{%- endmacro %}

{% macro default__integer_range(start, stop) -%}
    range({{ start }}, {{ stop }})
{%- endmacro %}

{% macro spark__integer_range(start, stop) -%}
    case
        when ({{ stop }}) > ({{ start }}) then sequence(cast({{ start }} as bigint), cast({{ stop }} as bigint) - 1)
        else cast(array() as array<bigint>)
    end
{%- endmacro %}

{% macro empty_integer_list() -%}
    {{ return(adapter.dispatch('empty_integer_list', 'event_analytics')()) }}
{%- endmacro %}

{% macro default__empty_integer_list() -%}
    []::integer[]
{%- endmacro %}

{% macro spark__empty_integer_list() -%}
    cast(array() as array<int>)
{%- endmacro %}

{#- Each item of the list as `expression`, in which `parameter` names the item. -#}
{% macro list_transform(list, parameter, expression) -%}
    {{ return(adapter.dispatch('list_transform', 'event_analytics')(list, parameter, expression)) }}
{%- endmacro %}

{% macro default__list_transform(list, parameter, expression) -%}
    list_transform(
        {{ list }},
        lambda {{ parameter }}: {{ expression }}
    )
{%- endmacro %}

{% macro spark__list_transform(list, parameter, expression) -%}
    transform(
        {{ list }},
        {{ parameter }} -> {{ expression }}
    )
{%- endmacro %}

{#- The aggregated values of `expression` as a list in ascending order (distinct ones when
    `distinct`), over the rows where `filter` holds when given; null when there are none. -#}
{% macro sorted_list_agg(expression, distinct=false, filter=none) -%}
    {{ return(adapter.dispatch('sorted_list_agg', 'event_analytics')(expression, distinct, filter)) }}
{%- endmacro %}

{% macro default__sorted_list_agg(expression, distinct, filter) -%}
    list({{ 'distinct ' if distinct }}{{ expression }} order by {{ expression }})
    {%- if filter is not none %} filter (where {{ filter }}){% endif %}
{%- endmacro %}

{% macro spark__sorted_list_agg(expression, distinct, filter) -%}
    {%- set collected -%}
        array_sort(collect_{{ 'set' if distinct else 'list' }}({{ expression }})
        {%- if filter is not none %} filter (where {{ filter }}){% endif %})
    {%- endset -%}
    case when size({{ collected }}) > 0 then {{ collected }} end
{%- endmacro %}
