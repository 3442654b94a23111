{#-
  JSON values as staging, the tracking plan's checks and the PII rules handle them. DuckDB's JSON
  type is text its functions parse; on Spark a parsed document is a VARIANT (try_parse_json), whose
  values these macros take apart. Types are named as DuckDB's json_type names them (VARCHAR,
  BIGINT, UBIGINT, DOUBLE, BOOLEAN, OBJECT, ARRAY, NULL), so that checks compare the same names on
  both engines. Paths are JSONPath literals ('$.context.page.path', json_top_key_path for a key).
-#}

{#- JSON text ready for the macros below (null when it is not JSON). -#}
{% macro json_document(text) -%}
    {{ return(adapter.dispatch('json_document', 'event_analytics')(text)) }}
{%- endmacro %}

{% macro default__json_document(text) -%}
    {{ text }}
{%- endmacro %}

{% macro spark__json_document(text) -%}
    try_parse_json({{ text }})
{%- endmacro %}

{#- Whether text is one JSON object, nothing before or after it. -#}
{% macro json_is_object_text(text) -%}
    {{ return(adapter.dispatch('json_is_object_text', 'event_analytics')(text)) }}
{%- endmacro %}

{#- json_valid is one parse; the object check needs only the first character after JSON's
    whitespace (space, tab, newline, carriage return). -#}
{% macro default__json_is_object_text(text) -%}
    json_valid({{ text }}) and ltrim({{ text }}, e' \t\n\r')[1] = '{'
{%- endmacro %}

{#- Spark's parser stops after the first value and ignores what follows it: an object's text ends
    with its closing brace, and wrapped in brackets it is a one-element array (text with another
    value after its object is not). -#}
{% macro spark__json_is_object_text(text) -%}
    coalesce(
        right(rtrim({{ text }}), 1) = '}'
        and schema_of_variant(try_parse_json({{ text }})) like 'OBJECT%'
        and size(try_cast(try_parse_json('[' || {{ text }} || ']') as array<variant>)) = 1,
        false
    )
{%- endmacro %}

{#- The value at `path` (SQL null when absent; a JSON null is a value). -#}
{% macro json_at(document, path) -%}
    {{ return(adapter.dispatch('json_at', 'event_analytics')(document, path)) }}
{%- endmacro %}

{% macro default__json_at(document, path) -%}
    json_extract({{ document }}, {{ sql_string(path) }})
{%- endmacro %}

{% macro spark__json_at(document, path) -%}
    variant_get({{ document }}, {{ sql_string(path) }})
{%- endmacro %}

{#- The values at `paths`, as a list in their order. -#}
{% macro json_at_each(document, paths) -%}
    {{ return(adapter.dispatch('json_at_each', 'event_analytics')(document, paths)) }}
{%- endmacro %}

{% macro default__json_at_each(document, paths) -%}
    json_extract({{ document }}, [{{ sql_list(paths) }}])
{%- endmacro %}

{% macro spark__json_at_each(document, paths) -%}
    array({% for path in paths %}variant_get({{ document }}, {{ sql_string(path) }}){{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}

{#- The values at `paths` as text (json_scalar_text), as a list in their order. -#}
{% macro json_texts_at(document, paths) -%}
    {{ return(adapter.dispatch('json_texts_at', 'event_analytics')(document, paths)) }}
{%- endmacro %}

{% macro default__json_texts_at(document, paths) -%}
    json_extract_string({{ document }}, [
        {%- for path in paths %}
        {{ sql_string(path) }}{{ ',' if not loop.last }}
        {%- endfor %}
    ])
{%- endmacro %}

{% macro spark__json_texts_at(document, paths) -%}
    array(
        {%- for path in paths %}
        variant_get({{ document }}, {{ sql_string(path) }}, 'string'){{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- Whether `path` is present (with any value, null included). -#}
{% macro json_has(document, path) -%}
    {{ return(adapter.dispatch('json_has', 'event_analytics')(document, path)) }}
{%- endmacro %}

{% macro default__json_has(document, path) -%}
    json_exists({{ document }}, {{ sql_string(path) }})
{%- endmacro %}

{% macro spark__json_has(document, path) -%}
    (variant_get({{ document }}, {{ sql_string(path) }}) is not null)
{%- endmacro %}

{#- The value's type, by DuckDB's json_type names; 'NULL' for a JSON null. -#}
{% macro json_kind(value) -%}
    {{ return(adapter.dispatch('json_kind', 'event_analytics')(value)) }}
{%- endmacro %}

{% macro default__json_kind(value) -%}
    json_type({{ value }})
{%- endmacro %}

{#- A variant integer beyond BIGINT is a DECIMAL(p, 0): DuckDB reads it as UBIGINT up to 2^64 - 1
    and as a DOUBLE beyond; any other DECIMAL is a number with a fraction, a DOUBLE to DuckDB. The
    other types are looked up by the first three letters of schema_of_variant's name in a constant
    map, which Spark builds once (a map with the DECIMAL decision among its values was built for
    every value, and measured 4.5 times slower on whole messages); a CASE on the name would repeat
    the value's expression in every branch (Spark plans a statement's expressions in time that
    grows with their size). -#}
{% macro spark__json_kind(value) -%}
    case
        when {{ value }} is null then null
        when is_variant_null({{ value }}) then 'NULL'
        else coalesce(
            map(
                'STR', 'VARCHAR',
                'BIG', 'BIGINT',
                'INT', 'BIGINT',
                'SMA', 'BIGINT',
                'TIN', 'BIGINT',
                'DOU', 'DOUBLE',
                'FLO', 'DOUBLE',
                'BOO', 'BOOLEAN',
                'OBJ', 'OBJECT',
                'ARR', 'ARRAY'
            )[left(schema_of_variant({{ value }}), 3)],
            case
                when schema_of_variant({{ value }}) like 'DECIMAL(%'
                    then if(try_variant_get({{ value }}, '$', 'decimal(38,0)') between 0 and 18446744073709551615
                        and schema_of_variant({{ value }}) like 'DECIMAL(%,0)', 'UBIGINT', 'DOUBLE')
            end
        )
    end
{%- endmacro %}

{#- A value as text: a string's own text, any other value's JSON text; SQL null for JSON null. -#}
{% macro json_scalar_text(value) -%}
    {{ return(adapter.dispatch('json_scalar_text', 'event_analytics')(value)) }}
{%- endmacro %}

{% macro default__json_scalar_text(value) -%}
    json_extract_string({{ value }}, '$')
{%- endmacro %}

{#- A variant read as a string is just that: a string's text, another value's JSON, null for null. -#}
{% macro spark__json_scalar_text(value) -%}
    variant_get({{ value }}, '$', 'string')
{%- endmacro %}

{#- A value's JSON text. -#}
{% macro json_text(value) -%}
    {{ return(adapter.dispatch('json_text', 'event_analytics')(value)) }}
{%- endmacro %}

{% macro default__json_text(value) -%}
    cast({{ value }} as varchar)
{%- endmacro %}

{% macro spark__json_text(value) -%}
    to_json({{ value }})
{%- endmacro %}

{#- JSON text (known to be valid) as a value. -#}
{% macro json_parse(text) -%}
    {{ return(adapter.dispatch('json_parse', 'event_analytics')(text)) }}
{%- endmacro %}

{% macro default__json_parse(text) -%}
    cast({{ text }} as json)
{%- endmacro %}

{% macro spark__json_parse(text) -%}
    parse_json({{ text }})
{%- endmacro %}

{#- A text as a JSON string value. -#}
{% macro json_string_value(text) -%}
    {{ return(adapter.dispatch('json_string_value', 'event_analytics')(text)) }}
{%- endmacro %}

{% macro default__json_string_value(text) -%}
    to_json({{ text }})
{%- endmacro %}

{% macro spark__json_string_value(text) -%}
    cast({{ text }} as variant)
{%- endmacro %}

{#- The elements of an array value, as a list (null when the value is not an array). -#}
{% macro json_elements(value) -%}
    {{ return(adapter.dispatch('json_elements', 'event_analytics')(value)) }}
{%- endmacro %}

{% macro default__json_elements(value) -%}
    json_extract({{ value }}, '$[*]')
{%- endmacro %}

{% macro spark__json_elements(value) -%}
    try_cast({{ value }} as array<variant>)
{%- endmacro %}

{#- The elements of the array at `path`, each as its JSON text. -#}
{% macro json_element_texts(document, path) -%}
    {{ return(adapter.dispatch('json_element_texts', 'event_analytics')(document, path)) }}
{%- endmacro %}

{% macro default__json_element_texts(document, path) -%}
    cast(json_extract({{ document }}, {{ sql_string(path ~ '[*]') }}) as varchar[])
{%- endmacro %}

{% macro spark__json_element_texts(document, path) -%}
    transform(try_cast(variant_get({{ document }}, {{ sql_string(path) }}) as array<variant>), element -> to_json(element))
{%- endmacro %}

{#- The number of elements of the array at `path` (null when absent or not an array). -#}
{% macro json_length_at(document, path) -%}
    {{ return(adapter.dispatch('json_length_at', 'event_analytics')(document, path)) }}
{%- endmacro %}

{% macro default__json_length_at(document, path) -%}
    json_array_length({{ document }}, {{ sql_string(path) }})
{%- endmacro %}

{% macro spark__json_length_at(document, path) -%}
    size(try_cast(variant_get({{ document }}, {{ sql_string(path) }}) as array<variant>))
{%- endmacro %}

{#- The number of keys of an object value, each counted as often as it is written. -#}
{% macro json_key_count(value) -%}
    {{ return(adapter.dispatch('json_key_count', 'event_analytics')(value)) }}
{%- endmacro %}

{% macro default__json_key_count(value) -%}
    len(json_keys({{ value }}))
{%- endmacro %}

{#- A variant keeps the last of a key written twice: such an object counts its keys once. -#}
{% macro spark__json_key_count(value) -%}
    size(try_cast({{ value }} as map<string, variant>))
{%- endmacro %}

{#- RFC 7386's merge patch of JSON texts, as text. `needed_when`: a condition (SQL) outside which
    the result is never used. -#}
{% macro json_merge_patch_text(target, patch, needed_when='true') -%}
    {{ return(adapter.dispatch('json_merge_patch_text', 'event_analytics')(target, patch, needed_when)) }}
{%- endmacro %}

{% macro default__json_merge_patch_text(target, patch, needed_when) -%}
    cast(json_merge_patch(cast({{ target }} as json), cast({{ patch }} as json)) as varchar)
{%- endmacro %}

{#- Spark SQL has no merge patch: event_analytics.spark_session registers this Python function.
    Spark calls a Python function on every row that reaches it, also those a CASE around it does
    not use: elsewhere than `needed_when` it is given nulls, not the row's text to ship to Python. -#}
{% macro spark__json_merge_patch_text(target, patch, needed_when) -%}
    {%- if needed_when == 'true' -%}
        event_analytics_json_merge_patch({{ target }}, {{ patch }})
    {%- else -%}
        event_analytics_json_merge_patch(
            case when {{ needed_when }} then {{ target }} end,
            case when {{ needed_when }} then {{ patch }} end
        )
    {%- endif -%}
{%- endmacro %}

{#- An item of a list by its 1-based position (a constant). -#}
{% macro nth(list, position) -%}
    {{ return(adapter.dispatch('nth', 'event_analytics')(list, position)) }}
{%- endmacro %}

{% macro default__nth(list, position) -%}
    {{ list }}[{{ position }}]
{%- endmacro %}

{% macro spark__nth(list, position) -%}
    {{ list }}[{{ position | int - 1 }}]
{%- endmacro %}

{#- A JSON value as a table stores it: DuckDB's JSON type, Spark's JSON text (Parquet tables and
    BI tools read text; models parse it where they use it). -#}
{% macro json_column(value) -%}
    {{ return(adapter.dispatch('json_column', 'event_analytics')(value)) }}
{%- endmacro %}

{% macro default__json_column(value) -%}
    {{ value }}
{%- endmacro %}

{% macro spark__json_column(value) -%}
    to_json({{ value }})
{%- endmacro %}
