{#-
  The ways an event breaks the tracking plan, as text naming each property: 'unplanned_event', or
  '<section>.<name>: missing' / ': expected <type>' / ': not in enum', joined with '; ', else null.
  Values never appear in the text: it reaches fct_events in flag mode, and a bad value may be PII.
-#}
{% macro plan_violations(event_name_column) -%}
    case {{ event_name_column }}
    {%- for event_name, event in tracking_plan()['events'].items() %}
        when {{ sql_string(event_name) }} then nullif(concat_ws(
            '; '
            {%- for section in ['properties', 'traits'] %}
                {%- for name, spec in event[section].items() %}
                    {%- set value = plan_value(event, section, name) %}
            , {{ plan_property_violation(section ~ '.' ~ name, value, spec) }}
                {%- endfor %}
            {%- endfor %}
        ), '')
    {%- endfor %}
        else 'unplanned_event'
    end
{%- endmacro %}

{%- macro plan_property_violation(label, value, spec) -%}
    case
        when {{ value }} is null or json_type({{ value }}) = 'NULL'
            then {{ sql_string(label ~ ': missing') if spec['required'] else 'null' }}
        when json_type({{ value }}) not in ({{ sql_list(plan_json_types(spec['type'])) }})
            then {{ sql_string(label ~ ': expected ' ~ spec['type']) }}
        {%- if spec['type'] == 'timestamp' %}
        when {{ parse_iso8601_utc("json_extract_string(" ~ value ~ ", '$')") }} is null
            then {{ sql_string(label ~ ': expected timestamp') }}
        {%- endif %}
        {%- if spec['enum'] is not none %}
        when json_extract_string({{ value }}, '$') not in ({{ sql_list(spec['enum']) }})
            then {{ sql_string(label ~ ': not in enum') }}
        {%- endif %}
    end
{%- endmacro %}
