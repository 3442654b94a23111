{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_rebuilt_users(funnel_definitions()) }}",
        post_hook="{{ record_watermark(funnel_definitions()) }}",
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
-#}

{%- set funnels = funnel_definitions() %}

-- depends_on: {{ ref('int_identity__user_partitions') }}

with

step_events as (
    select * from {{ ref('int_funnel__step_events') }}
    {%- if is_incremental() %}
        where user_key in ({{ rebuilt_users(funnel_definitions()) }})
    {%- endif %}
),

{% for funnel in funnels %}
    {%- set f = 'funnel_' ~ loop.index %}

    {{ f }}_step_1 as (
        select
            user_key,
            occurred_at as step_1_at
        from step_events
        where funnel_name = {{ sql_string(funnel.name) }} and step_index = 1
    ),

    {%- for step in funnel.steps[1:] %}
        {%- set k = loop.index + 1 %}

        {{ f }}_step_{{ k }}_events as (
            select
                user_key,
                occurred_at
            from step_events
            where funnel_name = {{ sql_string(funnel.name) }} and step_index = {{ k }}
        ),

        {{ f }}_step_{{ k }} as (
            select
                previous_steps.*,
                case
                    when
                        next_step.occurred_at
                        <= {{ dbt.dateadd('day', funnel.window_days, 'previous_steps.step_1_at') }}
                        then next_step.occurred_at
                end as step_{{ k }}_at
            from {{ f }}_step_{{ k - 1 }} as previous_steps
            asof left join {{ f }}_step_{{ k }}_events as next_step
                on
                    previous_steps.user_key = next_step.user_key
                    and previous_steps.step_{{ k - 1 }}_at < next_step.occurred_at
        ),
    {%- endfor %}

    {%- set n = funnel.steps | length %}

    {{ f }}_counted_attempt as (
        select *
        from (
            select
                *,
                row_number() over (
                    partition by user_key
                    order by
                        {%- for k in range(n, 1, -1) %}
                            step_{{ k }}_at is not null desc,
                        {%- endfor %}
                        step_1_at asc
                ) as attempt_rank
            from {{ f }}_step_{{ n }}
        ) as ranked_attempts
        where attempt_rank = 1
    ),

    {{ f }}_steps as (
        {%- for k in range(1, n + 1) %}
            select
                {{ sql_string(funnel.name) }} as funnel_name,
                user_key,
                {{ k }} as step_index,
                step_{{ k }}_at as reached_at
            from {{ f }}_counted_attempt
            where step_{{ k }}_at is not null
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
