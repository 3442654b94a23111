{#- The canonical plan name of a sent track name: a name listed in an event's `source_names`
    (e.g. Segment's "Order Completed") maps to that event; any other name is kept as sent. -#}
{% macro canonical_event_name(sent_name) -%}
    {%- set mapped = [] %}
    {%- for event_name, event in plan_events() | dictsort %}
        {%- for source_name in event.get('source_names') or [] %}
            {%- do mapped.append((source_name, event_name)) %}
        {%- endfor %}
    {%- endfor %}
    {%- if mapped -%}
        case {{ sent_name }}
        {%- for source_name, event_name in mapped %}
            when {{ sql_string(source_name) }} then {{ sql_string(event_name) }}
        {%- endfor %}
            else {{ sent_name }}
        end
    {%- else -%}
        {{ sent_name }}
    {%- endif -%}
{%- endmacro %}
