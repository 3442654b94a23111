{#- The retention vars, checked: what cohort_retention and the per-user activity it reads follow. -#}
{% macro retention_settings() %}
    {%- set grain = var('retention_grain') -%}
    {%- set mode = var('retention_mode') -%}
    {%- if grain not in ['day', 'week', 'month'] -%}
        {{ exceptions.raise_compiler_error("retention_grain must be day, week or month, got " ~ grain) }}
    {%- endif -%}
    {%- if mode not in ['calendar', 'rolling'] -%}
        {{ exceptions.raise_compiler_error("retention_mode must be calendar or rolling, got " ~ mode) }}
    {%- endif -%}
    {{ return({
        'grain': grain,
        'mode': mode,
        'event': var('retention_event'),
        'period_days': {'day': 1, 'week': 7, 'month': 30}[grain],
    }) }}
{% endmacro %}
