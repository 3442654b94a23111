{{ config(materialized='table') }}

{#-
  One row per distinct user agent (context.userAgent) among the events, read by the rules of
  seeds/user_agent_patterns.csv: for each field the first matching rule wins. Rebuilt every run
  from the distinct user agents (a few hundred, against millions of events), so the seed's
  current rules reach every event: fct_events and fct_sessions join this table by user_agent.
  The user agent itself stays here, out of the marts: with the IP it is the classic
  fingerprinting vector, and the families answer what analysts ask of it.
-#}

-- depends_on: {{ ref('user_agent_patterns') }}
{%- set rules = reference_rows('user_agent_patterns') %}

with

events as (
    select user_agent from {{ ref('int_events__sessionized') }}
),

user_agents as (
    select distinct user_agent
    from events
    where user_agent is not null
),

parsed as (
    select
        user_agent,
        {{ user_agent_rule('device_category', 'user_agent', rules) }} as device_category,
        {{ user_agent_rule('browser_family', 'user_agent', rules) }} as browser_family,
        {{ user_agent_rule('os_family', 'user_agent', rules) }} as os_family
    from user_agents
)

select
    user_agent,
    device_category,
    browser_family,
    os_family,
    device_category = 'bot' as is_bot
from parsed
