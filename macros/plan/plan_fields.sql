{#-
  How staging reads the tracking plan (macros/tracking_plan.sql, generated from tracking_plan.yml).
  Every planned property and trait is extracted in staging's single JSON parse of the line; these
  macros name those paths and build the checks and the PII-safe JSON from them.
-#}

{#- Each distinct (section, name) pair of the plan, in a stable order, with its JSON path. -#}
{% macro plan_fields() -%}
    {%- set seen = {} -%}
    {%- set fields = [] -%}
    {%- for event_name, event in tracking_plan()['events'].items() -%}
        {%- for section in ['properties', 'traits'] -%}
            {%- for name in event[section] -%}
                {%- set key = section ~ '.' ~ name -%}
                {%- if key not in seen -%}
                    {%- do seen.update({key: true}) -%}
                    {%- do fields.append({
                        'key': key,
                        'section': section,
                        'name': name,
                        'path': '$.' ~ section ~ '."' ~ name ~ '"',
                        'column': plan_field_column(section, name),
                    }) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(fields | sort(attribute='key')) }}
{%- endmacro %}

{#- The column staging gives a field's JSON value: plan_field__<section>__<name>. -#}
{% macro plan_field_column(section, name) -%}
    plan_field__{{ section }}__{{ name }}
{%- endmacro %}

{% macro planned_event_names() -%}
    {{ return(tracking_plan()['events'].keys() | list | sort) }}
{%- endmacro %}

{#- DuckDB json_type names a value may have for each plan type. -#}
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
