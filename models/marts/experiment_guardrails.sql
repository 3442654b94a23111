{#- Per experiment, variant and guardrail event (var experiment_guardrail_events), over assigned
    users not excluded: users with the event within experiment_window_days of their exposure, the
    rate, and for each non-control variant the difference from control's rate with the pooled
    two-proportion z-test's two-sided p-value (as experiment_results does for conversion). Rows,
    not columns: another guardrail event is another row, never another contract. -#}

{%- set guardrails = var('experiment_guardrail_events') or [] %}

with

assignments as (
    select * from {{ ref('experiment_assignments') }}
),

events as (
    select
        user_key,
        event_name,
        occurred_at
    from {{ ref('fct_events') }}
),

guardrail_events as (
    {%- for event in guardrails %}
        select {{ sql_string(event) }} as guardrail_event
        {{ 'union all' if not loop.last }}
    {%- else %}
        select cast(null as {{ dbt.type_string() }}) as guardrail_event
        where false
    {%- endfor %}
),

included_assignments as (
    select * from assignments
    where not is_excluded
),

users_with_guardrail_event as (
    select distinct
        included_assignments.experiment_id,
        included_assignments.user_key,
        events.event_name as guardrail_event
    from included_assignments
    inner join events
        on
            included_assignments.user_key = events.user_key
            and included_assignments.exposed_at <= events.occurred_at
            and events.occurred_at
            <= {{ time_add('day', var('experiment_window_days'), 'included_assignments.exposed_at') }}
    inner join guardrail_events on events.event_name = guardrail_events.guardrail_event
),

variant_counts as (
    select
        included_assignments.experiment_id,
        included_assignments.variant,
        guardrail_events.guardrail_event,
        count(*) as users,
        count(users_with_guardrail_event.user_key) as users_with_event
    from included_assignments
    cross join guardrail_events
    left join users_with_guardrail_event
        on
            included_assignments.experiment_id = users_with_guardrail_event.experiment_id
            and included_assignments.user_key = users_with_guardrail_event.user_key
            and guardrail_events.guardrail_event = users_with_guardrail_event.guardrail_event
    group by included_assignments.experiment_id, included_assignments.variant, guardrail_events.guardrail_event
),

with_control as (
    select
        variant_counts.*,
        control.users as control_users,
        cast(variant_counts.users_with_event as double) / variant_counts.users as rate,
        cast(control.users_with_event as double) / control.users as control_rate,
        cast(variant_counts.users_with_event + control.users_with_event as double)
        / (variant_counts.users + control.users) as pooled_rate
    from variant_counts
    left join variant_counts as control
        on
            variant_counts.experiment_id = control.experiment_id
            and variant_counts.guardrail_event = control.guardrail_event
            and control.variant = {{ sql_string(var('experiment_control_variant')) }}
            and variant_counts.variant != control.variant
),

tests as (
    select
        *,
        rate - control_rate as absolute_difference,
        (rate - control_rate) / nullif(sqrt(
            pooled_rate * (1 - pooled_rate) * (1 / cast(users as double) + 1 / cast(control_users as double))
        ), 0) as z_score
    from with_control
)

select
    experiment_id,
    variant,
    guardrail_event,
    cast(users_with_event as integer) as users_with_event,
    rate,
    absolute_difference,
    {{ normal_two_sided_p('z_score') }} as p_value
from tests
