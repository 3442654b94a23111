{#-
  The rule seeds as SQL: one CASE expression per field, its patterns constants, built from the
  seed's rows when the model compiles (macros/reference_data.sql says why). The first rule that
  matches wins; rules are in rule_order.
-#}

{#- device_category, browser_family or os_family of a user agent: the value of the first
    user_agent_patterns row of that field whose pattern occurs in it; Other when none does. -#}
{% macro user_agent_rule(field, user_agent, rules) -%}
    case
    {%- for rule in rules if rule.field == field %}
        when {{ regex_contains(user_agent, rule.pattern) }} then {{ sql_string(rule.value) }}
    {%- endfor %}
        else 'Other'
    end
{%- endmacro %}

{#- The channel group of a (source, medium, campaign) with its source category: the first
    channel_groupings row whose every non-empty condition holds; Unassigned when none does. The
    values are compared as given (int_traffic_sources__channels lower-cases them); a null value
    never matches a pattern. -#}
{% macro channel_group_rule(source, medium, campaign, source_category, rules) -%}
    case
    {%- for rule in rules %}
        {%- set conditions = [] %}
        {%- if rule.source_category %}
            {%- do conditions.append(source_category ~ ' = ' ~ sql_string(rule.source_category)) %}
        {%- endif %}
        {%- if rule.source_pattern %}
            {%- do conditions.append(regex_full_match(source, rule.source_pattern)) %}
        {%- endif %}
        {%- if rule.medium_pattern %}
            {%- do conditions.append(regex_full_match(medium, rule.medium_pattern)) %}
        {%- endif %}
        {%- if rule.campaign_pattern %}
            {%- do conditions.append(regex_full_match(campaign, rule.campaign_pattern)) %}
        {%- endif %}
        when {{ conditions | join(' and ') if conditions else 'true' }} then {{ sql_string(rule.channel_group) }}
    {%- endfor %}
        else 'Unassigned'
    end
{%- endmacro %}
