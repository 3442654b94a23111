{#- JSON objects taken apart and built, as engines spell them (scalar fields: json.sql). -#}

{#- The JSONPath of a top-level key (any characters). -#}
{% macro json_top_key_path(key) -%}
    {{ return(adapter.dispatch('json_top_key_path', 'event_analytics')(key)) }}
{%- endmacro %}

{% macro default__json_top_key_path(key) -%}
    {{ return('$."' ~ key ~ '"') }}
{%- endmacro %}

{% macro spark__json_top_key_path(key) -%}
    {{ return("$['" ~ key ~ "']") }}
{%- endmacro %}

{#- One row per key of the JSON object `json`, as `alias`.key with the value's JSON text
    (json_entry_text), in a FROM clause after the relation holding `json`: `from t {{ ... }}`. -#}
{% macro json_entries_join(json, alias) -%}
    {{ return(adapter.dispatch('json_entries_join', 'event_analytics')(json, alias)) }}
{%- endmacro %}

{% macro default__json_entries_join(json, alias) -%}
    cross join lateral json_each({{ json }}) as {{ alias }}
{%- endmacro %}

{% macro spark__json_entries_join(json, alias) -%}
    cross join lateral variant_explode(parse_json({{ json }})) as {{ alias }}
{%- endmacro %}

{#- The JSON text of an entry's value. -#}
{% macro json_entry_text(alias) -%}
    {{ return(adapter.dispatch('json_entry_text', 'event_analytics')(alias)) }}
{%- endmacro %}

{% macro default__json_entry_text(alias) -%}
    {{ alias }}.value
{%- endmacro %}

{% macro spark__json_entry_text(alias) -%}
    to_json({{ alias }}.value)
{%- endmacro %}

{#- Whether an entry's value is not JSON null. -#}
{% macro json_entry_is_not_null(alias) -%}
    {{ return(adapter.dispatch('json_entry_is_not_null', 'event_analytics')(alias)) }}
{%- endmacro %}

{% macro default__json_entry_is_not_null(alias) -%}
    {{ alias }}.type != 'NULL'
{%- endmacro %}

{% macro spark__json_entry_is_not_null(alias) -%}
    not is_variant_null({{ alias }}.value)
{%- endmacro %}

{#- An aggregate: the JSON object of the group's (key, JSON text of the value) pairs, keys in
    order (one pair per key). -#}
{% macro json_object_agg(key, value_json) -%}
    {{ return(adapter.dispatch('json_object_agg', 'event_analytics')(key, value_json)) }}
{%- endmacro %}

{% macro default__json_object_agg(key, value_json) -%}
    cast(
            '{' || string_agg(to_json({{ key }}) || ':' || {{ value_json }}, ',' order by {{ key }}) || '}' as json
        )
{%- endmacro %}

{% macro spark__json_object_agg(key, value_json) -%}
    concat('{', array_join(transform(
            array_sort(collect_list(struct({{ key }} as key, {{ value_json }} as value))),
            entry -> concat(
                substring(to_json(array(entry.key)), 2, length(to_json(array(entry.key))) - 2), ':', entry.value
            )
        ), ','), '}')
{%- endmacro %}
