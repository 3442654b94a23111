{#- More of lists.sql's list functions, for staging's plan checks and PII rules. `parameter` names
    the item in `expression`, as in list_transform. -#}

{#- The items for which `expression` holds. -#}
{% macro list_where(list, parameter, expression) -%}
    {{ return(adapter.dispatch('list_where', 'event_analytics')(list, parameter, expression)) }}
{%- endmacro %}

{% macro default__list_where(list, parameter, expression) -%}
    list_filter({{ list }}, lambda {{ parameter }}: {{ expression }})
{%- endmacro %}

{% macro spark__list_where(list, parameter, expression) -%}
    filter({{ list }}, {{ parameter }} -> {{ expression }})
{%- endmacro %}

{#- The smallest item (nulls ignored; null when there is none). -#}
{% macro list_smallest(list) -%}
    {{ return(adapter.dispatch('list_smallest', 'event_analytics')(list)) }}
{%- endmacro %}

{% macro default__list_smallest(list) -%}
    list_min({{ list }})
{%- endmacro %}

{% macro spark__list_smallest(list) -%}
    array_min({{ list }})
{%- endmacro %}

{#- The items of a list of lists, in order; a null list adds none. -#}
{% macro list_flatten(lists) -%}
    {{ return(adapter.dispatch('list_flatten', 'event_analytics')(lists)) }}
{%- endmacro %}

{% macro default__list_flatten(lists) -%}
    flatten({{ lists }})
{%- endmacro %}

{#- Spark's flatten is null when any of the lists is. -#}
{% macro spark__list_flatten(lists) -%}
    flatten(filter({{ lists }}, nested_list -> nested_list is not null))
{%- endmacro %}

{#- How many items are not null. -#}
{% macro list_count_not_null(list) -%}
    {{ return(adapter.dispatch('list_count_not_null', 'event_analytics')(list)) }}
{%- endmacro %}

{% macro default__list_count_not_null(list) -%}
    list_count({{ list }})
{%- endmacro %}

{% macro spark__list_count_not_null(list) -%}
    size(filter({{ list }}, counted_item -> counted_item is not null))
{%- endmacro %}

{#- Whether every item is true (null for an empty list). -#}
{% macro list_all(list) -%}
    {{ return(adapter.dispatch('list_all', 'event_analytics')(list)) }}
{%- endmacro %}

{% macro default__list_all(list) -%}
    list_bool_and({{ list }})
{%- endmacro %}

{% macro spark__list_all(list) -%}
    case when size({{ list }}) > 0 then forall({{ list }}, checked_item -> coalesce(checked_item, true)) end
{%- endmacro %}

{#- The items from 1-based `first` to `last` included. -#}
{% macro list_slice(list, first, last) -%}
    {{ return(adapter.dispatch('list_slice', 'event_analytics')(list, first, last)) }}
{%- endmacro %}

{% macro default__list_slice(list, first, last) -%}
    {{ list }}[{{ first }}:{{ last }}]
{%- endmacro %}

{% macro spark__list_slice(list, first, last) -%}
    slice({{ list }}, {{ first }}, {{ last }} - {{ first }} + 1)
{%- endmacro %}

{#- The lists one after another. -#}
{% macro list_concatenated(lists) -%}
    {{ return(adapter.dispatch('list_concatenated', 'event_analytics')(lists)) }}
{%- endmacro %}

{% macro default__list_concatenated(lists) -%}
    list_concat(
        {{ lists | join(',\n') }}
    )
{%- endmacro %}

{% macro spark__list_concatenated(lists) -%}
    concat(
        {{ lists | join(',\n') }}
    )
{%- endmacro %}

{#- Text split at each occurrence of `separator` (a constant, not a pattern). -#}
{% macro text_split(text, separator) -%}
    {{ return(adapter.dispatch('text_split', 'event_analytics')(text, separator)) }}
{%- endmacro %}

{% macro default__text_split(text, separator) -%}
    string_split({{ text }}, {{ sql_string(separator) }})
{%- endmacro %}

{#- Spark's split takes a pattern; -1 keeps empty pieces at the end, as DuckDB does. -#}
{% macro spark__text_split(text, separator) -%}
    split({{ text }}, {{ sql_string(modules.re.escape(separator)) }}, -1)
{%- endmacro %}

{#- The items joined by `separator` (null items left out). -#}
{% macro list_joined(list, separator) -%}
    {{ return(adapter.dispatch('list_joined', 'event_analytics')(list, separator)) }}
{%- endmacro %}

{% macro default__list_joined(list, separator) -%}
    array_to_string({{ list }}, {{ sql_string(separator) }})
{%- endmacro %}

{% macro spark__list_joined(list, separator) -%}
    array_join({{ list }}, {{ sql_string(separator) }})
{%- endmacro %}

{#- The item at a 1-based position computed per row (null when out of range or null). -#}
{% macro item_at(list, position) -%}
    {{ return(adapter.dispatch('item_at', 'event_analytics')(list, position)) }}
{%- endmacro %}

{% macro default__item_at(list, position) -%}
    {{ list }}[{{ position }}]
{%- endmacro %}

{% macro spark__item_at(list, position) -%}
    try_element_at({{ list }}, {{ position }})
{%- endmacro %}

{#- A list of JSON values (json_values.sql) from SQL expressions. -#}
{% macro json_list_of(items) -%}
    {{ return(adapter.dispatch('json_list_of', 'event_analytics')(items)) }}
{%- endmacro %}

{% macro default__json_list_of(items) -%}
    [
        {{ items | join(',\n') }}
    ]::json[]
{%- endmacro %}

{% macro spark__json_list_of(items) -%}
    array(
        {%- for item in items %}
        cast({{ item }} as variant){{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- A list of texts from SQL expressions. -#}
{% macro text_list_of(items) -%}
    {{ return(adapter.dispatch('text_list_of', 'event_analytics')(items)) }}
{%- endmacro %}

{% macro default__text_list_of(items) -%}
    [
        {{ items | join(',\n') }}
    ]::varchar[]
{%- endmacro %}

{% macro spark__text_list_of(items) -%}
    array(
        {%- for item in items %}
        cast({{ item }} as string){{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- A list of texts with no item. -#}
{% macro empty_text_list() -%}
    {{ return(adapter.dispatch('empty_text_list', 'event_analytics')()) }}
{%- endmacro %}

{% macro default__empty_text_list() -%}
    []
{%- endmacro %}

{% macro spark__empty_text_list() -%}
    cast(array() as array<string>)
{%- endmacro %}
