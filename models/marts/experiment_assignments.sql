{#- One row per (experiment, user) exposed: the first exposure decides variant and time. A user
    exposed to more than one variant is flagged and left out of experiment_results. Guardrail
    events are counted in experiment_guardrails. -#}

with

events as (
    select
        event_id,
        user_key,
        event_name,
        occurred_at,
        properties
    from {{ ref('fct_events') }}
),

exposures as (
    select
        event_id,
        user_key,
        occurred_at,
        {{ json_field_text('properties', '$.experiment_id') }} as experiment_id,
        {{ json_field_text('properties', '$.variant') }} as variant
    from events
    where event_name = 'experiment_viewed'
),

valid_exposures as (
    select * from exposures
    where experiment_id is not null and variant is not null
),

first_exposures as (
    select
        experiment_id,
        user_key,
        {{ arg_min('variant', sort_key(['occurred_at', 'event_id'])) }} as variant,
        min(occurred_at) as exposed_at,
        count(distinct variant) as variant_count
    from valid_exposures
    group by experiment_id, user_key
),

conversions as (
    select
        first_exposures.experiment_id,
        first_exposures.user_key,
        min(events.occurred_at) as first_occurred_at
    from first_exposures
    inner join events
        on
            first_exposures.user_key = events.user_key
            and first_exposures.exposed_at <= events.occurred_at
            and events.occurred_at
            <= {{ time_add('day', var('experiment_window_days'), 'first_exposures.exposed_at') }}
    where events.event_name = {{ sql_string(var('experiment_goal_event')) }}
    group by first_exposures.experiment_id, first_exposures.user_key
)

select
    first_exposures.experiment_id,
    first_exposures.user_key,
    first_exposures.variant,
    first_exposures.exposed_at,
    goal.first_occurred_at as converted_at,
    goal.first_occurred_at is not null as converted,
    first_exposures.variant_count > 1 as is_excluded
from first_exposures
left join conversions as goal
    on
        first_exposures.experiment_id = goal.experiment_id
        and first_exposures.user_key = goal.user_key
