-- Turns the simulated arrays (table `simulated`) into Segment-spec JSON lines, faults applied.
-- Parameters: $seed, $start (timestamp of day 0, UTC), $event_names, $fault_kinds, $experiment_id.
create table lines as
with

events as (
    select
        simulated.*,
        $event_names[event_code + 1] as event_name,
        $fault_kinds[fault] as fault_kind,
        $start + to_milliseconds(occurred_ms) as occurred_at,
        $start + to_milliseconds(received_ms) as received_at,
        'user-' || lpad(cast(user_idx as varchar), 7, '0') as user_id_value,
        'anon-' || left(md5($seed || ':device:' || device_idx), 20) as anonymous_id_value,
        md5($seed || ':message:' || seq) as message_hash,
        ['/', '/products', '/products/p-' || (rand_b % 500), '/cart', '/search', '/blog/how-to-choose',
            '/account', '/pricing'][1 + rand_a % 8] as path
    from simulated
),

shaped as (
    select
        *,
        case event_name
            when 'page_viewed' then 'page'
            when 'screen_viewed' then 'screen'
            when 'user_identified' then 'identify'
            else 'track'
        end as call_type,
        case
            when fault_kind = 'late' then occurred_at + to_milliseconds(86400000 + fault_delay_ms)
            else received_at
        end as first_received_at,
        'https://shop.example.com' || path as url,
        case campaign when 1 then 'https://www.google.com/' when 2 then 'https://news.example.org/' end
            as referrer,
        round(5 + (rand_b % 20000) / 100.0, 2) as price
    from events
),

with_payloads as (
    select
        *,
        case event_name
            when 'page_viewed' then json_object('path', path, 'url', url, 'title', 'Shop ' || path, 'referrer', referrer)
            when 'screen_viewed' then json_object('name', ['Home', 'Catalog', 'Cart', 'Profile'][1 + rand_a % 4])
            when 'product_viewed' then json_object(
                'product_id', 'p-' || (rand_b % 500),
                'category', ['shoes', 'shirts', 'bags', 'hats', 'socks', 'coats'][1 + rand_a % 6],
                'price', price, 'currency', 'EUR')
            when 'product_added' then json_object(
                'product_id', 'p-' || (rand_b % 500), 'price', price, 'quantity', 1 + rand_a % 3,
                'currency', 'EUR')
            when 'checkout_started' then json_object('cart_value', price * (1 + rand_a % 3), 'item_count', 1 + rand_a % 3)
            when 'checkout_failed' then json_object(
                'reason', ['card_declined', 'address_invalid', 'timeout'][1 + rand_a % 3])
            when 'order_completed' then json_object(
                'order_id', 'o-' || left(message_hash, 12), 'revenue', price * (1 + rand_a % 3), 'currency', 'EUR')
            when 'experiment_viewed' then json_object(
                'experiment_id', $experiment_id, 'variant', case arm when 1 then 'control' else 'treatment' end)
            when 'search_performed' then json_object(
                'search_term',
                case
                    when fault_kind = 'email_in_text'
                        then 'order for ' || 'shopper' || (rand_b % 9000) || '@example.com'
                    else ['running shoes', 'red shirt', 'gift', 'bag', 'winter coat', 'socks', 'sale',
                        'hat', 'sneakers', 'returns'][1 + rand_a % 10]
                end)
            when 'form_submitted' then json_object(
                'form_name', ['newsletter', 'contact', 'feedback'][1 + rand_a % 3],
                'outcome', case when rand_b % 10 = 0 then 'error' else 'success' end)
            when 'scroll_depth_reached' then json_object('percent', [25, 50, 75, 100][1 + rand_a % 4])
            when 'signup_started' then json_object('method', ['email', 'google', 'apple'][1 + rand_b % 3])
            when 'signup_completed' then json_object('method', ['email', 'google', 'apple'][1 + rand_b % 3])
            else json_object()
        end as properties,
        json_object(
            'ip', '203.0.' || (device_idx % 256) || '.' || ((device_idx // 256) % 254 + 1),
            'userAgent', ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15',
                'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0',
                'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148'][1 + device_idx % 3],
            'locale', ['en-US', 'de-DE', 'fr-FR', 'nl-NL'][1 + device_idx % 4],
            'page', json_object('path', path, 'url', url, 'referrer', referrer, 'title', 'Shop ' || path),
            'campaign', case campaign
                when 1 then json_object('source', 'google', 'medium', 'cpc', 'name', 'autumn_sale')
                when 2 then json_object('source', 'newsletter', 'medium', 'email', 'name', 'weekly')
                when 3 then json_object('source', 'facebook', 'medium', 'social', 'name', 'autumn_sale')
                when 4 then json_object('source', 'partner', 'medium', 'referral', 'name', 'affiliates')
            end
        ) as context
    from shaped
),

messages as (
    select
        seq,
        fault_kind,
        fault_delay_ms,
        first_received_at,
        cast(json_object(
            'messageId', substr(message_hash, 1, 8) || '-' || substr(message_hash, 9, 4) || '-'
            || substr(message_hash, 13, 4) || '-' || substr(message_hash, 17, 4) || '-'
            || substr(message_hash, 21, 12),
            'type', call_type,
            'event', case when call_type = 'track' then event_name end,
            'name', case when call_type in ('page', 'screen') then json_extract_string(properties, '$.name') end,
            'userId', case when has_user_id then user_id_value end,
            'anonymousId', case when has_anonymous_id then anonymous_id_value end,
            'timestamp', strftime(occurred_at + to_hours(utc_offset_hours), '%Y-%m-%dT%H:%M:%S.%g')
            || case
                when utc_offset_hours = 0 then 'Z'
                else printf('%+03d:00', utc_offset_hours)
            end,
            'sentAt', strftime(occurred_at, '%Y-%m-%dT%H:%M:%S.%gZ'),
            'receivedAt', strftime(first_received_at, '%Y-%m-%dT%H:%M:%S.%gZ'),
            'properties', case when call_type != 'identify' then properties end,
            'traits', case when call_type = 'identify' then json_object(
                'email', user_id_value || '@example.com',
                'name', 'Shopper ' || user_idx) end,
            'context', context
        ) as varchar) as message,
        rand_a
    from with_payloads
),

first_copies as (
    select
        seq,
        0 as copy,
        first_received_at as received_at,
        case fault_kind
            when 'malformed' then left(message, length(message) - 1 - rand_a % 40)
            when 'missing_message_id' then cast(json_merge_patch(message, '{"messageId": null}') as varchar)
            when 'missing_identity' then cast(
                json_merge_patch(message, '{"userId": null, "anonymousId": null}') as varchar)
            when 'bad_timestamp' then cast(json_merge_patch(
                message,
                json_object('timestamp', ['not a date', '2026-02-30T10:00:00Z', 'infinity', 'epoch'][1 + rand_a % 4])
            ) as varchar)
            -- breaks the tracking plan: an event it does not declare, a product_added with no
            -- product_id and a price of the wrong type
            when 'unplanned_event' then cast(json_merge_patch(
                message, '{"type": "track", "event": "promo_banner_clicked", "name": null}'
            ) as varchar)
            when 'schema_violation' then cast(json_merge_patch(
                message,
                '{"type": "track", "event": "product_added", "name": null, "traits": null, '
                || '"properties": {"product_id": null, "path": null, "url": null, "title": null, '
                || '"referrer": null, "price": "cheap"}}'
            ) as varchar)
            else message
        end as line
    from messages
),

duplicate_copies as (
    select
        seq,
        1 as copy,
        first_received_at + to_milliseconds(fault_delay_ms // 2) as received_at,
        cast(json_merge_patch(
            message,
            json_object('receivedAt', strftime(
                first_received_at + to_milliseconds(fault_delay_ms // 2), '%Y-%m-%dT%H:%M:%S.%gZ'))
        ) as varchar) as line
    from messages
    where fault_kind = 'duplicate'
)

select
    seq,
    copy,
    epoch_ms(received_at) as received_ms,
    cast(received_at as date) as day,
    line
from (
    select * from first_copies
    union all
    select * from duplicate_copies
)
