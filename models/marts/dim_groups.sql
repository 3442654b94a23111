{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_rebuilt_groups() }}",
        post_hook="{{ record_watermark() }}",
    )
}}

{#-
  One row per group_id with a group call. Traits: for each trait, the value of the latest call (by
  occurred_at, then received_at, then event_id) that carried it with a non-null value, so a call
  that leaves a trait out, or sends it null, keeps the value known (Segment's group traits merge
  into the group's profile); keys in name order. Every column is one group's own calls and members:
  an incremental run recomputes the groups whose member pairs were rebuilt (rebuilt_groups), which
  include every group a rewritten group call names, and removes groups left with no call.
-#}

with

pairs as (
    select * from {{ ref('int_groups__memberships') }}
    where is_current
    {% if is_incremental() %}
        and group_id in ({{ rebuilt_groups() }})
    {% endif %}
),

group_calls as (
    select
        event_id,
        group_id,
        occurred_at,
        received_at,
        traits
    from {{ ref('fct_events') }}
    where event_type = 'group'
    {% if is_incremental() %}
        and group_id in ({{ rebuilt_groups() }})
    {% endif %}
),

group_facts as (
    select
        group_id,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        count(*) as member_count
    from pairs
    group by group_id
),

call_traits as (
    select
        group_calls.group_id,
        group_calls.occurred_at,
        group_calls.received_at,
        group_calls.event_id,
        call_trait.key as trait_name,
        {{ json_entry_text('call_trait') }} as trait_value
    from group_calls
    {{ json_entries_join('group_calls.traits', 'call_trait') }}
    where {{ json_entry_is_not_null('call_trait') }}
),

latest_traits as (
    select
        group_id,
        trait_name,
        {{ arg_max('trait_value', sort_key(['occurred_at', 'received_at', 'event_id'])) }} as trait_value
    from call_traits
    group by group_id, trait_name
),

-- built as text to fix the key order (json_group_object takes no order by)
group_traits as (
    select
        group_id,
        {{ json_object_agg('trait_name', 'trait_value') }} as traits
    from latest_traits
    group by group_id
)

select
    group_facts.group_id,
    group_facts.first_seen_at,
    group_facts.last_seen_at,
    cast(group_facts.member_count as integer) as member_count,
    group_traits.traits,
    {{ run_timestamp() }} as _processed_at
from group_facts
left join group_traits on group_facts.group_id = group_traits.group_id
