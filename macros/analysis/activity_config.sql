{#- What makes a user active in active_users and user_lifecycle: var active_user_events (null: any
    event) and, always, a user agent that is no bot (seeds/user_agent_patterns.csv). The per-user
    activity (int_activity__user_days) is keyed by both, so a change recomputes every user. -#}
{% macro active_user_settings() %}
    {%- set events = var('active_user_events', none) -%}
    {%- if events is string -%}
        {{ exceptions.raise_compiler_error("active_user_events must be a list of event names or null, got " ~ events) }}
    {%- endif -%}
    {{ return({
        'events': events,
        'bots': reference_rows('user_agent_patterns'),
    }) }}
{% endmacro %}

{#- The lengths of active_users' trailing windows by grain: DAU, WAU and MAU as product analytics
    tools count them (Amplitude, Mixpanel and PostHog use 1, 7 and 28 days: whole weeks, so
    weekday patterns do not skew a month). -#}
{% macro active_user_windows() %}
    {{ return({'day': 1, 'week': 7, 'month': 28}) }}
{% endmacro %}

{#- user_lifecycle's grains. -#}
{% macro lifecycle_grains() %}
    {{ return(['day', 'week', 'month']) }}
{% endmacro %}
