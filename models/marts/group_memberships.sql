{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_rebuilt_groups() }}",
        post_hook="{{ record_watermark() }}",
    )
}}

{#- One row per (group, user_key) with a group call: the current pairs of int_groups__memberships.
    An incremental run replaces the groups whose pairs that model rebuilt since this one's
    watermark (rebuilt_groups): a re-keyed member moves to its new user_key, and a group left with
    no member loses its rows. -#}

with

pairs as (
    select * from {{ ref('int_groups__memberships') }}
    where is_current
    {% if is_incremental() %}
        and group_id in ({{ rebuilt_groups() }})
    {% endif %}
)

select
    group_id,
    user_key,
    first_seen_at,
    last_seen_at
from pairs
