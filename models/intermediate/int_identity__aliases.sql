{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='alias_key',
        post_hook="{{ record_watermark() }}",
    )
}}

{#-
  Every alias call's previousId → the userId it finally stands for. From each previousId the latest
  alias (by occurred_at, then received_at, then event_id) is its link, as a device's latest login
  wins; links are followed to the end of their chain (A→B then B→C gives C). A chain that runs into
  a cycle (A→B and B→A) ends at the cycle's member that the cycle's latest alias points to: the
  most recent intent wins, whatever order the messages arrived in. A previousId that is itself that
  member maps to itself. Aliases are few, so every run resolves them all; a key whose user is
  unchanged keeps its stamp, so int_events__sessionized re-keys only what an alias moved.
-#}

with recursive

alias_events as (
    select
        previous_id,
        user_id,
        occurred_at,
        received_at,
        event_id
    from {{ ref('int_events__deduplicated') }}
    where event_type = 'alias' and previous_id != user_id
),

links as (
    select
        previous_id,
        {{ arg_max('user_id', sort_key(['occurred_at', 'received_at', 'event_id'])) }} as user_id,
        max({{ sort_key(['occurred_at', 'received_at', 'event_id']) }}) as linked_by
    from alias_events
    group by previous_id
),

-- Each previousId's walk along the links; a step onto a key already walked ends it.
walks as (
    select
        previous_id as alias_key,
        user_id as reached_id,
        {{ list_of(['previous_id']) }} as walked_keys
    from links
    union all
    select
        walks.alias_key,
        links.user_id as reached_id,
        {{ list_with_item('walks.walked_keys', 'walks.reached_id') }} as walked_keys
    from walks
    inner join links on walks.reached_id = links.previous_id
    where not {{ list_has('walks.walked_keys', 'walks.reached_id') }}
),

walk_ends as (
    select
        alias_key,
        {{ arg_max('reached_id', list_length('walked_keys')) }} as reached_id,
        {{ arg_max('walked_keys', list_length('walked_keys')) }} as walked_keys
    from walks
    group by alias_key
),

-- The members of the cycle a walk ended in: the keys walked from the reached key's first visit on.
cycle_members as (
    select
        alias_key,
        {{ unnest_list(list_from_item('walked_keys', 'reached_id')) }} as member_id
    from walk_ends
    where {{ list_has('walked_keys', 'reached_id') }}
),

cycle_ends as (
    select
        cycle_members.alias_key,
        {{ arg_max('links.user_id', 'links.linked_by') }} as user_id
    from cycle_members
    inner join links on cycle_members.member_id = links.previous_id
    group by cycle_members.alias_key
),

resolved as (
    select
        walk_ends.alias_key,
        coalesce(cycle_ends.user_id, walk_ends.reached_id) as user_id
    from walk_ends
    left join cycle_ends on walk_ends.alias_key = cycle_ends.alias_key
)

select
    resolved.alias_key,
    resolved.user_id,
    {%- if is_incremental() %}
        case
            when earlier_aliases.user_id = resolved.user_id then earlier_aliases._processed_at
            else {{ run_timestamp() }}
        end as _processed_at
    from resolved
    left join {{ this }} as earlier_aliases on resolved.alias_key = earlier_aliases.alias_key
    {%- else %}
        {{ run_timestamp() }} as _processed_at
    from resolved
    {%- endif %}
