{#- One row per (funnel, unit) with a step-1 event: the unit is a user, or with var funnel_unit group a
    group (user_key then holds the group_id; see int_funnel__counted_steps). -#}

with

counted_steps as (
    select * from {{ ref('int_funnel__counted_steps') }}
),

definitions as (
    select distinct
        funnel_name,
        step_count
    from {{ ref('int_funnel__definitions') }}
),

user_levels as (
    select
        funnel_name,
        user_key,
        max(step_index) as level,
        min(reached_at) as entered_at,
        max(reached_at) as last_reached_at
    from counted_steps
    group by funnel_name, user_key
)

select
    user_levels.funnel_name,
    user_levels.user_key,
    cast(user_levels.level as integer) as level,
    user_levels.entered_at,
    case when user_levels.level = definitions.step_count then user_levels.last_reached_at end as completed_at
from user_levels
inner join definitions on user_levels.funnel_name = definitions.funnel_name
