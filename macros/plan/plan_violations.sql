{#-
  The ways an event breaks the tracking plan, as text naming each property: 'unplanned_event', or
  '<section>.<name>: missing' / ': expected <type>' / ': not in enum', joined with '; ', else null.
  Values never appear in the text: it reaches fct_events in flag mode, and a bad value may be PII.
  Inside an `array` with `items` or an `object` with `properties` the same checks name the nested
  path, `properties.products[].price: expected number`, once per path however many elements break
  it (of several problems at one path the first of missing, expected type, not in enum).
-#}
{% macro plan_violations(event_name_column) -%}
    {%- set nested = plan_nested_fields() %}
    case {{ event_name_column }}
    {%- for event_name, event in plan_events().items() %}
        {%- if not (event['properties'] or event['traits']) %}
        when {{ sql_string(event_name) }} then null
        {%- else %}
        when {{ sql_string(event_name) }} then nullif(concat_ws(
            '; '
            {%- for section in ['properties', 'traits'] %}
                {%- for name, spec in event[section].items() %}
                    {%- set label = section ~ '.' ~ name %}
            , {{ plan_property_violation(label, plan_value(event, section, name), spec) }}
                    {%- if tojson([label, spec]) in nested['keys'] %}
            , {{ nth('nested_violations', nested['keys'].index(tojson([label, spec])) + 1) }}
                    {%- endif %}
                {%- endfor %}
            {%- endfor %}
        ), '')
        {%- endif %}
    {%- endfor %}
        else 'unplanned_event'
    end
{%- endmacro %}

{#-
  The plan's distinct fields with a nested spec (by label and spec), each with the events that
  declare it and the SQL of its value there: {'keys': [...], 'fields': [(label, spec, sources)]}.
  Their checks are written once, whichever events declare them, and kept apart from the events'
  CASE: the e-commerce events share `products`, and repeating its checks per event made DuckDB
  spend most of a second planning staging; inside a lambda over the CASE they cost 4x at run time.
-#}
{% macro plan_nested_fields() -%}
    {%- set keys = [] %}
    {%- set fields = [] %}
    {%- for event_name, event in plan_events().items() %}
        {%- for section in ['properties', 'traits'] %}
            {%- for name, spec in event[section].items() %}
                {%- set label = section ~ '.' ~ name %}
                {%- if plan_nested_violations(label, '[value]', spec) %}
                    {%- set key = tojson([label, spec]) %}
                    {%- if key not in keys %}
                        {%- do keys.append(key) %}
                        {%- do fields.append((label, spec, [])) %}
                    {%- endif %}
                    {%- do fields[keys.index(key)][2].append((event_name, plan_value(event, section, name))) %}
                {%- endif %}
            {%- endfor %}
        {%- endfor %}
    {%- endfor %}
    {{ return({'keys': keys, 'fields': fields}) }}
{%- endmacro %}

{#- The value of each nested field (plan_nested_fields' order), as a list: staging's nested_values. -#}
{% macro plan_nested_values(event_name_column) -%}
    {%- set values = [] %}
    {%- for label, spec, sources in plan_nested_fields()['fields'] %}
        {%- set value -%}
        case {{ event_name_column }}
        {%- for event_name, value in sources %} when {{ sql_string(event_name) }} then {{ value }}{% endfor %} end
        {%- endset %}
        {%- do values.append(value) %}
    {%- endfor %}
    {{ json_list_of(values) }}
{%- endmacro %}

{#- The violations inside each nested field, parallel to nested_values: staging's nested_violations.
    They are looked for only where the value has the declared shape. -#}
{% macro plan_nested_checks() -%}
    {%- set checks = [] %}
    {%- for label, spec, sources in plan_nested_fields()['fields'] %}
        {%- set value = nth('nested_values', loop.index) %}
        {%- set check -%}
        case when {{ json_kind(value) }} = {{ sql_string(spec['type'] | upper) }} then nullif(concat_ws(
            '; '
        {%- for check in plan_nested_violations(label, list_of([value]), spec) %}
            , {{ check }}
        {%- endfor %}
        ), '') end
        {%- endset %}
        {%- do checks.append(check) %}
    {%- endfor %}
    {{ text_list_of(checks) }}
{%- endmacro %}

{%- macro plan_property_violation(label, value, spec) -%}
    case
        when {{ value }} is null or {{ json_kind(value) }} = 'NULL'
            then {{ sql_string(label ~ ': missing') if spec['required'] else 'null' }}
        when {{ json_kind(value) }} not in ({{ sql_list(plan_json_types(spec['type'])) }})
            then {{ sql_string(label ~ ': expected ' ~ spec['type']) }}
        {%- if spec['type'] == 'timestamp' %}
        when {{ parse_iso8601_utc(json_scalar_text(value)) }} is null
            then {{ sql_string(label ~ ': expected timestamp') }}
        {%- endif %}
        {%- if spec['enum'] is not none %}
        when {{ json_scalar_text(value) }} not in ({{ sql_list(spec['enum']) }})
            then {{ sql_string(label ~ ': not in enum') }}
        {%- endif %}
    end
{%- endmacro %}

{#-
  The checks below a property with a nested spec, as a list of SQL expressions (each a label or
  null), depth first in the plan's order. `values` is SQL for the list of JSON values found at
  `label` (SQL null where an object lacks the key); `spec` describes them. Elements of an array
  and fields of objects are gathered into one list per nested path, so each path is one label.
-#}
{% macro plan_nested_violations(label, values, spec) -%}
    {%- set checks = [] %}
    {%- if spec['type'] == 'array' and spec.get('items') is not none %}
        {%- set elements = plan_nested_elements(values) %}
        {%- do checks.append(plan_values_violation(label ~ '[]', elements, spec['items'])) %}
        {%- do checks.extend(plan_nested_violations(label ~ '[]', elements, spec['items'])) %}
    {%- elif spec['type'] == 'object' and spec.get('properties') is not none %}
        {%- for name, child in spec['properties'].items() %}
            {%- set fields = plan_nested_field(values, name) %}
            {%- do checks.append(plan_values_violation(label ~ '.' ~ name, fields, child)) %}
            {%- do checks.extend(plan_nested_violations(label ~ '.' ~ name, fields, child)) %}
        {%- endfor %}
    {%- endif %}
    {{ return(checks) }}
{%- endmacro %}

{#- One label for a list of values at a nested path: the most telling problem any of them has. -#}
{% macro plan_values_violation(label, values, spec) -%}
    {%- set problem_of_value -%}
        case
            when nested_value is null or {{ json_kind('nested_value') }} = 'NULL' then {{ '1' if spec['required'] else 'null' }}
            when {{ json_kind('nested_value') }} not in ({{ sql_list(plan_json_types(spec['type'])) }}) then 2
            {%- if spec['type'] == 'timestamp' %}
            when {{ parse_iso8601_utc(json_scalar_text('nested_value')) }} is null then 2
            {%- endif %}
            {%- if spec['enum'] is not none %}
            when {{ json_scalar_text('nested_value') }} not in ({{ sql_list(spec['enum']) }}) then 3
            {%- endif %}
        end
    {%- endset %}
    {%- set labels = list_of([
        sql_string(label ~ ': missing'), sql_string(label ~ ': expected ' ~ spec['type']), sql_string(label ~ ': not in enum')
    ]) %}
    {{ return(item_at(labels, list_smallest(list_transform(values, 'nested_value', problem_of_value)))) }}
{%- endmacro %}
