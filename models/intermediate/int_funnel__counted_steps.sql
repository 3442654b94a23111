{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_rebuilt_units(funnel_unit_settings(), analysis_unit('funnel_unit')) }}",
        post_hook="{{ record_watermark(funnel_unit_settings()) }}",
    )
}}

{#-
  For each funnel and user in it, the steps of the attempt counted, one row per step reached.
  From every step-1 event e1, the chain takes for each next step the earliest matching event strictly
  after the previous one and at most window_days after e1 (an as-of join); greedy earliest is what
  makes a chain from e1 as long as it can be. The user's level is the longest chain of any e1, and
  the attempt counted is the earliest e1 reaching it.
  A user's steps depend on that user's events only: an incremental run recomputes the users whose
  events moved (rebuilt_users), and everyone when the funnel definitions changed.
  With var funnel_unit group the unit is a group (macros/analysis/analysis_unit.sql): its step
  events are all its current members' events, in time order, and user_key holds the group_id; an
  incremental run recomputes the groups whose members or members' events changed (rebuilt_units).
-#}

{%- set funnels = funnel_definitions() %}
{%- set unit = analysis_unit('funnel_unit') %}

-- depends_on: {{ ref('int_identity__user_partitions') }}
-- depends_on: {{ ref('int_groups__memberships') }}

with

step_events as (
    {%- if unit == 'group' %}
        select
            member_step_events.funnel_name,
            member_step_events.step_index,
            memberships.group_id as user_key,
            member_step_events.occurred_at
        from {{ ref('int_funnel__step_events') }} as member_step_events
        inner join {{ ref('int_groups__memberships') }} as memberships
            on member_step_events.user_key = memberships.user_key
        where memberships.is_current
        {% if is_incremental() %}
            and memberships.group_id in ({{ rebuilt_units(funnel_unit_settings(), unit) }})
        {% endif %}
    {%- else %}
        select * from {{ ref('int_funnel__step_events') }}
        {%- if is_incremental() %}
            where user_key in ({{ rebuilt_units(funnel_unit_settings(), unit) }})
        {%- endif %}
    {%- endif %}
),

{% for funnel in funnels %}
    {%- set f = 'funnel_' ~ loop.index %}

    {%- set n = funnel.steps | length %}

    {%- for k in range(1, n + 1) %}

        {{ f }}_step_{{ k }}_events as (
            select
                user_key,
                occurred_at
            from step_events
            where funnel_name = {{ sql_string(funnel.name) }} and step_index = {{ k }}
        ),
    {%- endfor %}

    {{ f }}_first_step_1 as (
        select
            user_key,
            min(occurred_at) as first_step_1_at
        from {{ f }}_step_1_events
        group by user_key
    ),

    {%- if n > 1 %}

        {{ f }}_last_step_2 as (
            select
                user_key,
                max(occurred_at) as last_step_2_at
            from {{ f }}_step_2_events
            group by user_key
        ),
    {%- endif %}

    -- The step-1 events that can start the counted attempt: the user's first, and those before
    -- the user's last step-2 event. A later one reaches step 1 only, as the first does. (Signup's
    -- step 1 is any page view: for a day at 10M events, 2.1M step-1 events became 137k, and the
    -- statement took 1.15 s instead of 1.9.)
    {{ f }}_step_1 as (
        select
            step_1_events.user_key,
            step_1_events.occurred_at as step_1_at
        from {{ f }}_step_1_events as step_1_events
        inner join {{ f }}_first_step_1 as first_step_1 on step_1_events.user_key = first_step_1.user_key
        {%- if n > 1 %}
            left join {{ f }}_last_step_2 as last_step_2 on step_1_events.user_key = last_step_2.user_key
        {%- endif %}
        where
            step_1_events.occurred_at = first_step_1.first_step_1_at
            {%- if n > 1 %}
                or step_1_events.occurred_at < last_step_2.last_step_2_at
            {%- endif %}
    ),

    {%- for k in range(2, n + 1) %}
        {%- set previous_columns = ['user_key'] %}
        {%- for j in range(1, k) %}
            {%- do previous_columns.append('step_' ~ j ~ '_at') %}
        {%- endfor %}

        {{ f }}_step_{{ k }}_next as (
            {{ asof_next_rows(
                f ~ '_step_' ~ (k - 1), previous_columns, 'user_key', 'step_' ~ (k - 1) ~ '_at',
                f ~ '_step_' ~ k ~ '_events', 'user_key', 'occurred_at', 'next_step_at',
            ) | indent(12) }}
        ),

        {{ f }}_step_{{ k }} as (
            select
                {%- for column in previous_columns %}
                    {{ column }},
                {%- endfor %}
                case
                    when next_step_at <= {{ time_add('day', funnel.window_days, 'step_1_at') }}
                        then next_step_at
                end as step_{{ k }}_at
            from {{ f }}_step_{{ k }}_next
        ),
    {%- endfor %}

    -- The earliest step-1 time among the longest chains, as a hash aggregate: ranking attempts by
    -- a window sorted them all
    {{ f }}_counted_attempt as (
        select
            user_key,
            {%- set reached = {} %}
            {%- set attempt_order = [] %}
            {%- for k in range(1, n + 1) %}
                {%- do reached.update({'step_' ~ k ~ '_at': 'step_' ~ k ~ '_at'}) %}
            {%- endfor %}
            {%- for k in range(n, 1, -1) %}
                {%- do attempt_order.append('step_' ~ k ~ '_at is null') %}
            {%- endfor %}
            {%- do attempt_order.append('step_1_at') %}
            {{ arg_min(named_row(reached), sort_key(attempt_order)) }} as attempt
        from {{ f }}_step_{{ n }}
        group by user_key
    ),

    {{ f }}_steps as (
        {%- for k in range(1, n + 1) %}
            select
                {{ sql_string(funnel.name) }} as funnel_name,
                {{ f }}_counted_attempt.user_key,
                {{ k }} as step_index,
                {{ f }}_counted_attempt.attempt.step_{{ k }}_at as reached_at
            from {{ f }}_counted_attempt
            where {{ f }}_counted_attempt.attempt.step_{{ k }}_at is not null
            {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    ),
{% endfor %}

all_steps as (
    {%- for funnel in funnels %}
        select * from funnel_{{ loop.index }}_steps
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select
    funnel_name,
    user_key,
    step_index,
    reached_at
from all_steps
