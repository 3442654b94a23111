{{ config(materialized='table') }}

{#-
  Each session's path: its page views (page_path) and screen views (the screen's name) in time
  order from the session's start, a view repeating the one before it (a reload, a screen
  re-shown) left out, numbered 1, 2, ...; the first var path_max_steps + 1 of them, enough for
  path_max_steps transitions. Other events are no step. Bots' views (int_user_agents__parsed) are
  left out.
-#}

{%- set max_steps = var('path_max_steps') %}

with

views as (
    select
        session_id,
        event_id,
        event_type,
        occurred_at,
        page_path,
        page_name,
        user_agent
    from {{ ref('int_events__sessionized') }}
    where event_type in ('page', 'screen')
),

user_agents as (
    select
        user_agent,
        is_bot
    from {{ ref('int_user_agents__parsed') }}
),

nodes as (
    select
        views.session_id,
        views.event_id,
        views.occurred_at,
        coalesce(case views.event_type when 'page' then views.page_path else views.page_name end, '(not set)')
            as node
    from views
    left join user_agents on views.user_agent = user_agents.user_agent
    where not coalesce(user_agents.is_bot, false)
),

with_previous as (
    select
        *,
        lag(node) over session_order as previous_node
    from nodes
    window session_order as (partition by session_id order by occurred_at, event_id)
),

-- one window pass (the same order as the lag's): the running count of views that differ from the
-- one before is each kept view's step
numbered as (
    select
        *,
        sum(case when previous_node is null or previous_node != node then 1 else 0 end) over (
            partition by session_id
            order by occurred_at, event_id
            rows between unbounded preceding and current row
        ) as step_index
    from with_previous
)

select
    session_id,
    cast(step_index as integer) as step_index,
    node
from numbered
where
    (previous_node is null or previous_node != node)
    and step_index <= {{ max_steps + 1 }}
