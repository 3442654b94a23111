{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='group_id',
        post_hook="{{ record_watermark() }}",
    )
}}

{#-
  Which user_keys made a group call for each group (is_current), with the first and last of those
  calls, and the pairs a later run took away (retired: the user was re-keyed by stitching or an
  alias, or a re-decided copy changed the call's group or type), stamped when that happened. Models
  kept per group (dim_groups, group_memberships) and the funnels and retention counted by group
  recompute the groups of pairs stamped after their own watermark, so a group that lost a member,
  or every member, is recomputed too.
  An incremental run rebuilds a group whole, from all its group calls: the groups that rewritten
  group calls name now, and the groups with a current member whose events were rewritten (the only
  way a call can leave a group: its user is re-keyed, or its partition rewritten from a re-decided
  copy on, which stamps the partition's users in int_identity__user_partitions).
-#}

-- depends_on: {{ ref('int_identity__user_partitions') }}

with

{% if is_incremental() %}
    affected_groups as (
        select rewritten_calls.group_id
        from {{ ref('int_events__sessionized') }} as rewritten_calls
        where
            rewritten_calls._processed_at > {{ watermark() }}
            and rewritten_calls.event_type = 'group'
        union
        select stored_pairs.group_id
        from {{ this }} as stored_pairs
        where
            stored_pairs.is_current
            and stored_pairs.user_key in ({{ rebuilt_users() }})
    ),
{% endif %}

group_calls as (
    select
        group_id,
        user_key,
        occurred_at
    from {{ ref('int_events__sessionized') }}
    where event_type = 'group'
    {% if is_incremental() %}
        and group_id in (select affected_groups.group_id from affected_groups)
    {% endif %}
),

current_pairs as (
    select
        group_id,
        user_key,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at
    from group_calls
    group by group_id, user_key
),

{% if is_incremental() %}
    retired_pairs as (
        {{ retired_pairs(
            ['group_id', 'user_key'],
            ['first_seen_at', 'last_seen_at'],
            'current_pairs',
            'earlier_pairs.group_id in (select affected_groups.group_id from affected_groups)',
        ) }}
    ),
{% endif %}

pairs as (
    select
        group_id,
        user_key,
        first_seen_at,
        last_seen_at,
        true as is_current,
        {{ run_timestamp() }} as _processed_at
    from current_pairs
    {% if is_incremental() %}
        union all
        select
            group_id,
            user_key,
            first_seen_at,
            last_seen_at,
            false as is_current,
            _processed_at
        from retired_pairs
    {% endif %}
)

select
    group_id,
    user_key,
    first_seen_at,
    last_seen_at,
    is_current,
    _processed_at
from pairs
