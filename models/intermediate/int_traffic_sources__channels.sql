{{ config(materialized='table') }}

{#-
  One row per distinct traffic touch (macros/traffic/touches.sql) among the sessions' first
  events, with the source, medium and campaign GA4 would give it and its default channel group by
  the rules of seeds/channel_groupings.csv and seeds/source_categories.csv. Rebuilt every run
  from the distinct touches (few, against the sessions), so fct_sessions, which joins it, always
  has the seeds' current rules.
  - Any UTM field: source and medium are utm_source and utm_medium, '(not set)' when missing
    (campaign tagging wins over the referrer, as in GA4).
  - Else a Google Ads click id in the landing URL (gclid, gbraid, wbraid: auto-tagging): google / cpc.
  - Else a referrer whose host (without www.) is not the landing page's: that host / referral. A
    referrer from the site itself (a session that restarted after the timeout, say) is no source.
  - Else (direct) / (none).
  The channel rules compare lower-cased values; a source is in a category (search, social, video,
  shopping) when it is a listed source or a subdomain of one, the longest listed match winning.
-#}

-- depends_on: {{ ref('channel_groupings') }}
{%- set rules = reference_rows('channel_groupings') %}

with

session_starts as (
    select
        utm_source,
        utm_medium,
        utm_campaign,
        referrer,
        page_url
    from {{ ref('int_events__sessionized') }}
    where is_session_start
),

categories as (
    select
        source,
        source_category
    from {{ reference_relation('source_categories') }} as listed_sources
),

touches as (
    select distinct {{ traffic_touch('utm_source', 'utm_medium', 'utm_campaign', 'referrer', 'page_url') }}
    from session_starts
),

sourced as (
    select
        *,
        touch_utm_source != '' or touch_utm_medium != '' or touch_utm_campaign != '' as is_tagged,
        touch_referrer_host != '' and touch_referrer_host != touch_landing_host as is_referred
    from touches
),

source_mediums as (
    select
        *,
        case
            when is_tagged then coalesce(nullif(lower(trim(touch_utm_source)), ''), '(not set)')
            when touch_has_ad_click_id then 'google'
            when is_referred then touch_referrer_host
            else '(direct)'
        end as traffic_source,
        case
            when is_tagged then coalesce(nullif(lower(trim(touch_utm_medium)), ''), '(not set)')
            when touch_has_ad_click_id then 'cpc'
            when is_referred then 'referral'
            else '(none)'
        end as traffic_medium,
        nullif(lower(trim(touch_utm_campaign)), '') as traffic_campaign
    from sourced
),

sources as (
    select distinct traffic_source from source_mediums
),

-- a listed source, or a subdomain of one (m.facebook.com is facebook.com's)
source_matches as (
    select
        sources.traffic_source,
        categories.source_category,
        row_number() over (
            partition by sources.traffic_source
            order by length(categories.source) desc, categories.source_category
        ) as match_rank
    from sources
    inner join categories
        on
            sources.traffic_source = categories.source
            or right(sources.traffic_source, length(categories.source) + 1) = '.' || categories.source
),

categorized as (
    select
        source_mediums.*,
        source_matches.source_category
    from source_mediums
    left join source_matches
        on
            source_mediums.traffic_source = source_matches.traffic_source
            and source_matches.match_rank = 1
)

select
    touch_utm_source,
    touch_utm_medium,
    touch_utm_campaign,
    touch_referrer_host,
    touch_landing_host,
    touch_has_ad_click_id,
    traffic_source,
    traffic_medium,
    traffic_campaign,
    source_category,
    {{ channel_group_rule('traffic_source', 'traffic_medium', 'traffic_campaign', 'source_category', rules) }}
        as channel_group
from categorized
