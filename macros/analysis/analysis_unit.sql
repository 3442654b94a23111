{#-
  What funnels and retention count: users (`user`, the default) or, as B2B teams do (Amplitude's and
  Mixpanel's "group analytics"), groups (`group`): a user's events then count for every group the
  user is a current member of (int_groups__memberships, what marts.group_memberships holds), the
  unit's key is the group_id, and users in no group are not counted. The per-unit models keep the
  column name user_key for the unit's key either way.
-#}

{#- var funnel_unit or retention_unit, checked. -#}
{% macro analysis_unit(var_name) %}
    {%- set unit = var(var_name, 'user') -%}
    {%- if unit not in ['user', 'group'] -%}
        {{ exceptions.raise_compiler_error(var_name ~ " must be user or group, got " ~ unit) }}
    {%- endif -%}
    {{ return(unit) }}
{% endmacro %}

{#- The settings a per-unit model's rows follow, for its watermark: under unit user the analysis
    settings alone (so the watermark of rows computed before these vars existed still holds), else
    the settings with the unit, so changing the unit, or changing it back, recomputes every unit. -#}
{% macro unit_settings(settings, unit) %}
    {%- if unit == 'user' -%}
        {{ return(settings) }}
    {%- endif -%}
    {{ return({'unit': unit, 'settings': settings}) }}
{% endmacro %}

{% macro funnel_unit_settings() %}
    {{ return(unit_settings(funnel_definitions(), analysis_unit('funnel_unit'))) }}
{% endmacro %}

{% macro retention_unit_settings() %}
    {{ return(unit_settings(retention_settings(), analysis_unit('retention_unit'))) }}
{% endmacro %}

{#- The units an incremental run recomputes. unit user: the users whose events moved
    (rebuilt_users). unit group: the groups whose member pairs were rebuilt since the watermark (a
    member gained, lost or re-keyed: int_groups__memberships stamps every pair of a group it
    rebuilds, and keeps a retired pair's stamp), and the groups with a current member whose events
    moved. The calling model declares `-- depends_on:` int_groups__memberships and
    int_identity__user_partitions. -#}
{% macro rebuilt_units(settings, unit) -%}
    {%- if unit == 'group' -%}
        select rebuilt_groups.group_id
        from {{ ref('int_groups__memberships') }} as rebuilt_groups
        where
            rebuilt_groups._processed_at > {{ watermark(settings) }}
            or (rebuilt_groups.is_current and rebuilt_groups.user_key in ({{ rebuilt_users(settings) }}))
    {%- else -%}
        {{ rebuilt_users(settings) }}
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of a model kept per unit (its rows keyed by user_key, which holds the unit's key). New
    settings (no watermark for them yet, as after a change of unit) recompute every unit, and the
    rows stored under the other unit are not keyed by this one's keys: all rows go. -#}
{% macro delete_rebuilt_units(settings, unit) %}
    {%- if is_incremental() %}
        {%- if has_watermark(settings) %}
            {{ delete_rows(this, 'user_key in (' ~ rebuilt_units(settings, unit) ~ ')') }}
        {%- else %}
            {{ delete_rows(this, 'true') }}
        {%- endif %}
    {%- endif %}
{% endmacro %}

{% macro has_watermark(settings=none) %}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set query -%}
        select count(*)
        from meta.incremental_watermarks
        where model_name = '{{ watermark_key(settings) }}'
    {%- endset -%}
    {{ return(run_query(query).columns[0].values()[0] > 0) }}
{% endmacro %}

{#-
  Models kept per group (int_groups__memberships' consumers dim_groups and group_memberships): an
  incremental run deletes and recomputes the groups whose pairs were rebuilt since the model's
  watermark, including groups left with no member, which then get no row.
-#}
{% macro rebuilt_groups(settings=none) -%}
    select rebuilt_pairs.group_id
    from {{ ref('int_groups__memberships') }} as rebuilt_pairs
    where rebuilt_pairs._processed_at > {{ watermark(settings) }}
{%- endmacro %}

{% macro delete_rebuilt_groups(settings=none) %}
    {%- if is_incremental() %}
        {{ delete_rows(this, 'group_id in (' ~ rebuilt_groups(settings) ~ ')') }}
    {%- endif %}
{% endmacro %}
