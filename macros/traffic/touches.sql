{#-
  What decides a session's channel, from its first event: the UTM fields, the referrer's and the
  landing page's hosts (without www.), and whether the landing URL carries a Google Ads click id.
  int_traffic_sources__channels classifies each distinct combination once, and fct_sessions joins
  its sessions to it on these columns (touch_*): both compute them with this macro, so they always agree.
  None is '' (a join key), never null.
-#}
{% macro traffic_touch(utm_source, utm_medium, utm_campaign, referrer, page_url) -%}
    coalesce({{ utm_source }}, '') as touch_utm_source,
    coalesce({{ utm_medium }}, '') as touch_utm_medium,
    coalesce({{ utm_campaign }}, '') as touch_utm_campaign,
    coalesce({{ url_host(referrer, without_www=true) }}, '') as touch_referrer_host,
    coalesce({{ url_host(page_url, without_www=true) }}, '') as touch_landing_host,
    coalesce({{ regex_contains(page_url, '[?&#](gclid|gbraid|wbraid)=') }}, false) as touch_has_ad_click_id
{%- endmacro %}

{#- The join of a relation's traffic_touch columns to int_traffic_sources__channels'. -#}
{% macro traffic_touch_join(touches, channels) -%}
    {{ touches }}.touch_utm_source = {{ channels }}.touch_utm_source
    and {{ touches }}.touch_utm_medium = {{ channels }}.touch_utm_medium
    and {{ touches }}.touch_utm_campaign = {{ channels }}.touch_utm_campaign
    and {{ touches }}.touch_referrer_host = {{ channels }}.touch_referrer_host
    and {{ touches }}.touch_landing_host = {{ channels }}.touch_landing_host
    and {{ touches }}.touch_has_ad_click_id = {{ channels }}.touch_has_ad_click_id
{%- endmacro %}
