{#- Fields of a JSON column, as engines spell them. `path` is a JSONPath literal such as
    '$.order_id'. -#}

{#- A scalar field as text (null when absent or null). -#}
{% macro json_field_text(json, path) -%}
    {{ return(adapter.dispatch('json_field_text')(json, path)) }}
{%- endmacro %}

{% macro default__json_field_text(json, path) -%}
    json_extract_string({{ json }}, {{ sql_string(path) }})
{%- endmacro %}

{% macro spark__json_field_text(json, path) -%}
    get_json_object({{ json }}, {{ sql_string(path) }})
{%- endmacro %}

{#- A numeric field as a double (null when absent, null or not a number). -#}
{% macro json_number(json, path) -%}
    {{ return(adapter.dispatch('json_number')(json, path)) }}
{%- endmacro %}

{% macro default__json_number(json, path) -%}
    try_cast(json_extract_string({{ json }}, {{ sql_string(path) }}) as double)
{%- endmacro %}

{% macro spark__json_number(json, path) -%}
    try_cast(get_json_object({{ json }}, {{ sql_string(path) }}) as double)
{%- endmacro %}

{#- The length of an array field (null when absent or not an array). -#}
{% macro json_array_size(json, path) -%}
    {{ return(adapter.dispatch('json_array_size')(json, path)) }}
{%- endmacro %}

{% macro default__json_array_size(json, path) -%}
    cast(json_array_length({{ json }}, {{ sql_string(path) }}) as integer)
{%- endmacro %}

{% macro spark__json_array_size(json, path) -%}
    json_array_length(get_json_object({{ json }}, {{ sql_string(path) }}))
{%- endmacro %}

{#- Sum of price × quantity (1 when absent) over an array of Segment Product objects. -#}
{% macro json_products_value(json, path) -%}
    {{ return(adapter.dispatch('json_products_value')(json, path)) }}
{%- endmacro %}

{% macro default__json_products_value(json, path) -%}
    list_sum(list_transform(
        cast(json_extract({{ json }}, {{ sql_string(path ~ '[*]') }}) as json[]),
        lambda product: try_cast(json_extract_string(product, '$.price') as double)
        * coalesce(try_cast(json_extract_string(product, '$.quantity') as double), 1)
    ))
{%- endmacro %}

{% macro spark__json_products_value(json, path) -%}
    aggregate(
        from_json(get_json_object({{ json }}, {{ sql_string(path) }}), 'array<struct<price:double,quantity:double>>'),
        cast(0 as double),
        (total, product) -> total + product.price * coalesce(product.quantity, 1)
    )
{%- endmacro %}
