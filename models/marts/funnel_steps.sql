{#- Per funnel and step: users at level >= step, conversion, and the median time from the previous
    step on the attempt counted. Overall rows have a null breakdown; var funnel_breakdowns adds rows
    per value of each listed fct_sessions column, taken from the user's first session. With var
    funnel_unit group the units are groups (user_key holds the group_id, users counts groups) and a
    group's first session is the earliest of its current members' sessions. -#}

{%- set breakdowns = var('funnel_breakdowns') or [] %}
{%- for column in breakdowns if not modules.re.match('^[a-z_][a-z0-9_]*$', column | string) %}
    {{ exceptions.raise_compiler_error("funnel_breakdowns: not a column name of fct_sessions: " ~ (column | tojson)) }}
{%- endfor %}
{%- set unit = analysis_unit('funnel_unit') %}

-- depends_on: {{ ref('int_groups__memberships') }}

with

counted_steps as (
    select * from {{ ref('int_funnel__counted_steps') }}
),

definitions as (
    select * from {{ ref('int_funnel__definitions') }}
),

{% if breakdowns %}
    unit_sessions as (
        {%- if unit == 'group' %}
            select
                memberships.group_id as unit_key,
                member_sessions.*
            from {{ ref('fct_sessions') }} as member_sessions
            inner join {{ ref('int_groups__memberships') }} as memberships
                on member_sessions.user_key = memberships.user_key
            where memberships.is_current
        {%- else %}
            select
                user_key as unit_key,
                *
            from {{ ref('fct_sessions') }}
        {%- endif %}
    ),

    first_sessions as (
        select *
        from (
            select
                *,
                row_number() over (partition by unit_key order by started_at, session_id) as session_rank
            from unit_sessions
        ) as ranked_sessions
        where session_rank = 1
    ),
{% endif %}

step_durations as (
    select
        funnel_name,
        user_key,
        step_index,
        cast({{ time_diff(
            'lag(reached_at) over (partition by funnel_name, user_key order by step_index)',
            'reached_at',
            'millisecond'
        ) }} as double) / 1000 as seconds_from_previous
    from counted_steps
),

user_groups as (
    select distinct
        funnel_name,
        user_key,
        cast(null as {{ dbt.type_string() }}) as breakdown_key,
        cast(null as {{ dbt.type_string() }}) as breakdown_value
    from counted_steps
    {%- for column in breakdowns %}
        union all
        select distinct
            counted_steps.funnel_name,
            counted_steps.user_key,
            {{ sql_string(column) }} as breakdown_key,
            cast(first_sessions.{{ adapter.quote(column) }} as {{ dbt.type_string() }}) as breakdown_value
        from counted_steps
        left join first_sessions on counted_steps.user_key = first_sessions.unit_key
    {%- endfor %}
),

breakdown_groups as (
    select distinct
        funnel_name,
        breakdown_key,
        breakdown_value
    from user_groups
),

reached as (
    select
        user_groups.funnel_name,
        user_groups.breakdown_key,
        user_groups.breakdown_value,
        step_durations.step_index,
        count(*) as users,
        {{ median('step_durations.seconds_from_previous') }} as median_seconds_from_previous
    from user_groups
    inner join step_durations
        on
            user_groups.funnel_name = step_durations.funnel_name
            and user_groups.user_key = step_durations.user_key
    group by 1, 2, 3, 4
),

-- every step of every group, so a step nobody reached shows 0 users
filled as (
    select
        breakdown_groups.funnel_name,
        breakdown_groups.breakdown_key,
        breakdown_groups.breakdown_value,
        definitions.step_index,
        definitions.step_name,
        reached.median_seconds_from_previous,
        coalesce(reached.users, 0) as users
    from breakdown_groups
    inner join definitions on breakdown_groups.funnel_name = definitions.funnel_name
    left join reached
        on
            breakdown_groups.funnel_name = reached.funnel_name
            and breakdown_groups.breakdown_key is not distinct from reached.breakdown_key
            and breakdown_groups.breakdown_value is not distinct from reached.breakdown_value
            and definitions.step_index = reached.step_index
),

with_conversion as (
    select
        *,
        first_value(users) over funnel_group as users_at_start,
        -- a frame is no part of lag's window (Spark refuses one)
        lag(users) over (partition by funnel_name, breakdown_key, breakdown_value order by step_index)
            as users_at_previous
    from filled
    window funnel_group as (
        partition by funnel_name, breakdown_key, breakdown_value
        order by step_index
        rows between unbounded preceding and current row
    )
)

select
    funnel_name,
    cast(step_index as integer) as step_index,
    step_name,
    breakdown_key,
    breakdown_value,
    cast(users as integer) as users,
    median_seconds_from_previous,
    cast(users as double) / nullif(users_at_start, 0) as conversion_from_start,
    cast(users as double) / nullif(coalesce(users_at_previous, users), 0) as conversion_from_previous
from with_conversion
