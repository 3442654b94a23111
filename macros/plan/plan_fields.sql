{#-
  How staging reads the tracking plan (macros/tracking_plan.sql, generated from tracking_plan.yml).
  Staging's one parse of a line keeps its `properties` and `traits` objects; per event, one
  json_extract of that small object takes the values of the fields the event declares, as a list
  (plan_properties, plan_traits). Extracting every planned field of every event from every line
  measured 10 s more CPU at 10M events, most of it on fields the event cannot have.
-#}

{#- The list column staging gives a section's declared values, in the event's declared order. -#}
{% macro plan_values_column(section) -%}
    plan_{{ section }}
{%- endmacro %}

{#- An event's declared values of a section, as a list of JSON values (null where absent). -#}
{% macro plan_values(event_name_column, section, object_column) -%}
    case {{ event_name_column }}
    {%- for event_name, event in plan_events().items() if event[section] %}
        {%- set paths = [] %}
        {%- for name in event[section] %}{% do paths.append(json_top_key_path(name)) %}{% endfor %}
        when {{ sql_string(event_name) }} then {{ json_at_each(object_column, paths) }}
    {%- endfor %}
    end
{%- endmacro %}

{#- The JSON value of field `name` of an event's section: an element of plan_values' list. -#}
{% macro plan_value(event, section, name) -%}
    {{ nth(plan_values_column(section), (event[section].keys() | list).index(name) + 1) }}
{%- endmacro %}

{#- json_kind names (DuckDB's json_type's) a value may have for each plan type. -#}
{% macro plan_json_types(plan_type) -%}
    {{ return({
        'string': ['VARCHAR'],
        'timestamp': ['VARCHAR'],
        'integer': ['BIGINT', 'UBIGINT'],
        'number': ['BIGINT', 'UBIGINT', 'DOUBLE'],
        'boolean': ['BOOLEAN'],
        'object': ['OBJECT'],
        'array': ['ARRAY'],
    }[plan_type]) }}
{%- endmacro %}

{#-
  Nested specs (`items` of an array, `properties` of an object) are checked on lists of JSON
  values: every value found at one nested path, across the elements of every array above it.
  The elements of the arrays among `values` (other values contribute none), as one list.
-#}
{% macro plan_nested_elements(values) -%}
    {{ list_flatten(list_transform(
        values,
        'nested_value',
        "case when " ~ json_kind('nested_value') ~ " = 'ARRAY' then " ~ json_elements('nested_value') ~ " end"
    )) }}
{%- endmacro %}

{#- Field `name` of the objects among `values` (SQL null where an object lacks it), as one list. -#}
{% macro plan_nested_field(values, name) -%}
    {{ list_transform(
        list_where(values, 'nested_value', json_kind('nested_value') ~ " = 'OBJECT'"),
        'nested_value',
        json_at('nested_value', json_top_key_path(name))
    ) }}
{%- endmacro %}

{#-
  The plan's events, name -> spec. sqlfluff (.sqlfluff) compiles staging with var
  `plan_lint_events`, a few flat events: the default plan's 40 events compile staging to 840 KB of
  SQL nested deeper than sqlfluff's parser can recurse, and what sqlfluff checks, the model's own
  lines, is the same whichever events the macros repeat for. Runs never set it.
-#}
{% macro plan_events() -%}
    {%- set events = tracking_plan()['events'] %}
    {#- A comma-separated string: sqlfluff passes its context values as text. #}
    {%- set only = var('plan_lint_events', none) %}
    {%- if only is none %}
        {{ return(events) }}
    {%- endif %}
    {%- set subset = {} %}
    {%- for name in only.split(',') %}
        {%- do subset.update({name: events[name]}) %}
    {%- endfor %}
    {{ return(subset) }}
{%- endmacro %}
