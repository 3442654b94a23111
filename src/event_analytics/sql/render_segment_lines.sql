-- Turns the simulated arrays (table `simulated`) into Segment-spec JSON lines, faults applied:
-- table `lines` (seq, copy, received_ms, day, line, and three columns batches used).
-- Parameters: $seed, $start (timestamp of day 0, UTC), $event_names, $spec_names (per event code
-- the e-commerce spec's name or null), $fault_kinds, $experiment_id, $user_agents (by
-- user_agent_idx, 0-based).

-- `"key":value`, or null (so concat_ws leaves the key out) when the value is null: senders omit
-- fields a call does not have, and a batch member must not hold a null that would erase its
-- envelope's field when merged (a JSON merge patch deletes keys set to null).
create or replace temp macro json_field(key, value) as '"' || key || '":' || to_json(value);

create or replace temp macro utc_time(ts) as strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ');

-- A client's local time with its UTC offset.
create or replace temp macro local_time(ts, offset_hours) as
    strftime(ts + to_hours(offset_hours), '%Y-%m-%dT%H:%M:%S.%g')
    || case when offset_hours = 0 then 'Z' else printf('%+03d:00', offset_hours) end;

-- A catalogue product's price, and the sum of several's.
create or replace temp macro spec_price(n) as round(5 + (n * 7919 % 20000) / 100.0, 2);

create or replace temp macro spec_subtotal(numbers) as
    round(list_sum(list_transform(numbers, lambda n: spec_price(n))), 2);

-- A catalogue product as Segment's e-commerce spec describes it, all fields derived from its number.
create or replace temp macro spec_product(n, quantity) as json_object(
    'product_id', 'p-' || n,
    'sku', 'SKU-' || lpad(cast(n as varchar), 5, '0'),
    'category', ['shoes', 'shirts', 'bags', 'hats', 'socks', 'coats'][1 + n % 6],
    'name', ['Trail Runner', 'Oxford Shirt', 'Weekender Bag', 'Wool Beanie', 'Crew Socks', 'Rain Parka'][1 + n % 6],
    'brand', ['Northwind', 'Contoso', 'Fabrikam', 'Tailspin', 'Litware'][1 + n % 5],
    'variant', ['black', 'navy', 'red', 'olive', 'grey'][1 + (n // 6) % 5],
    'price', spec_price(n),
    'quantity', quantity,
    'url', 'https://shop.example.com/products/p-' || n,
    'image_url', 'https://cdn.shop.example.com/p/p-' || n || '.jpg'
);

create table lines as
with

events as (
    select
        simulated.*,
        $event_names[event_code + 1] as event_name,
        -- the name this device sends: the spec's for devices following the e-commerce spec
        coalesce(case when spec_names then $spec_names[event_code + 1] end, $event_names[event_code + 1])
            as sent_name,
        $fault_kinds[fault] as fault_kind,
        $start + to_milliseconds(occurred_ms) as occurred_at,
        $start + to_milliseconds(received_ms) as received_at,
        -- the person's id, and the old id an aliased user had before the alias
        'user-' || lpad(cast(user_idx as varchar), 7, '0') as user_id_value,
        'legacy-' || lpad(cast(user_idx as varchar), 7, '0') as legacy_id_value,
        'anon-' || left(md5($seed || ':device:' || device_idx), 20) as anonymous_id_value,
        md5($seed || ':message:' || seq) as message_hash,
        rand_a % 8 as path_index,
        ['/', '/products', '/products/p-' || (rand_b % 500), '/cart', '/search', '/blog/how-to-choose',
            '/account', '/pricing'][1 + rand_a % 8] as path
    from simulated
),

-- Some buyers come back for a refund: one in sixteen form_submitted events a day or more after an
-- order of theirs becomes an order_refunded of their latest such order (one refund an order):
-- of half its value (`total`) one time in three, else of all of it (no total).
placed_orders as (
    select
        user_idx,
        occurred_ms + 86400000 as refundable_from_ms,
        'o-' || left(message_hash, 12) as order_id,
        -- the order's revenue, as its payload below computes it
        case
            when sent_name = 'Order Completed'
                then spec_subtotal(list_transform(range(1 + rand_a % 3), lambda i: (rand_b + 137 * i) % 500))
            else round(5 + (rand_b % 20000) / 100.0, 2) * (1 + rand_a % 3)
        end as order_value
    from events
    where event_name = 'order_completed'
),

refunds as (
    select
        events.seq,
        placed_orders.order_id,
        case when events.rand_a % 3 = 0 then round(placed_orders.order_value / 2, 2) end as refund_total
    from events
    asof inner join placed_orders
        on
            events.user_idx = placed_orders.user_idx
            and events.occurred_ms >= placed_orders.refundable_from_ms
    where events.event_name = 'form_submitted' and events.rand_b % 16 = 0
    qualify row_number() over (partition by placed_orders.order_id order by events.seq) = 1
),

events_with_refunds as (
    select
        events.* replace (
            case when refunds.seq is null then events.event_name else 'order_refunded' end as event_name,
            case
                when refunds.seq is null then events.sent_name
                when events.spec_names then 'Order Refunded'
                else 'order_refunded'
            end as sent_name
        ),
        refunds.order_id as refund_order_id,
        refunds.refund_total
    from events
    left join refunds on events.seq = refunds.seq
),

shaped as (
    select
        *,
        case event_name
            when 'page_viewed' then 'page'
            when 'screen_viewed' then 'screen'
            when 'user_identified' then 'identify'
            when 'group_identified' then 'group'
            when 'user_aliased' then 'alias'
            else 'track'
        end as call_type,
        case
            when fault_kind = 'late' then occurred_at + to_milliseconds(86400000 + fault_delay_ms)
            else received_at
        end as first_received_at,
        'https://shop.example.com' || path
        -- a Google Ads click auto-tagged (gclid), without UTM
        || case when entry = 'ads' then '?gclid=Cj0KCQ' || left(message_hash, 16) else '' end as url,
        case
            when campaign = 1 or entry = 'ads' then 'https://www.google.com/'
            when campaign = 2 then 'https://news.example.org/'
            when campaign = 3 then 'https://l.facebook.com/'
            when entry = 'search' then ['https://www.google.com/', 'https://www.google.com/', 'https://www.google.de/',
                'https://www.bing.com/', 'https://duckduckgo.com/'][1 + rand_a % 5]
            when entry = 'social' then ['https://l.facebook.com/', 'https://t.co/', 'https://www.linkedin.com/',
                'https://l.instagram.com/'][1 + rand_a % 4]
            when entry = 'site' then 'https://blog.example.net/best-bags'
            when entry = 'video' then 'https://m.youtube.com/'
            -- a session that started again on the site after the timeout
            when entry = 'self' then 'https://shop.example.com/cart'
        end as referrer,
        round(5 + (rand_b % 20000) / 100.0, 2) as price,
        -- the products of a spec checkout or order: one to three catalogue products
        case when sent_name in ('Checkout Started', 'Order Completed') then
            list_transform(range(1 + rand_a % 3), lambda i: (rand_b + 137 * i) % 500)
        end as product_numbers,
        case when group_idx >= 0 then 'grp-' || lpad(cast(group_idx as varchar), 5, '0') end as group_id_value,
        case when group_idx >= 0 then
            ['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne', 'Wonka', 'Tyrell', 'Soylent'][
                1 + group_idx % 10]
            || ' ' || ['Labs', 'Retail', 'Systems', 'Foods', 'Logistics', 'Studio'][1 + (group_idx // 10) % 6]
            || case when group_idx >= 60 then ' ' || (group_idx // 60 + 1) else '' end
        end as group_name,
        '203.0.' || (device_idx % 256) || '.' || ((device_idx // 256) % 254 + 1) as ip,
        $user_agents[user_agent_idx + 1] as user_agent,
        ['en-US', 'de-DE', 'fr-FR', 'nl-NL'][1 + device_idx % 4] as locale
    from (
        select
            *,
            -- how a session without a campaign came: a search engine, a social network, another
            -- site, an ad click auto-tagged, the site itself, a video; else directly
            case
                when is_session_start and campaign = 0
                    then ['search', 'search', 'search', 'search', 'search', 'search', 'social', 'social', 'site',
                        'ads', 'self', 'video'][1 + rand_b % 20]
            end as entry
        from events_with_refunds
    ) as entries
),

with_payloads as (
    select
        *,
        -- the device's clock when it sent the message: the network's latency before receivedAt (at
        -- most half the time since the event, so that Segment's computed time, the event's time
        -- plus that latency, is never after receivedAt), plus the clock's error
        first_received_at
        - to_milliseconds(least(50 + rand_a % 350, date_diff('millisecond', occurred_at, first_received_at) // 2))
        + to_milliseconds(clock_skew_ms) as client_sent_at,
        case sent_name
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
            -- a merge patch over {} leaves out a null total (a full refund)
            when 'order_refunded' then json_merge_patch('{}', json_object(
                'order_id', refund_order_id, 'currency', 'EUR', 'total', refund_total))
            when 'Order Refunded' then json_merge_patch('{}', json_object(
                'order_id', refund_order_id, 'currency', 'EUR', 'total', refund_total))
            -- the e-commerce spec's shapes: Product objects, a products array, spec totals
            when 'Product Viewed' then json_merge_patch(
                spec_product(rand_b % 500, 1),
                json_object('currency', 'EUR', 'value', spec_price(rand_b % 500)))
            when 'Product Added' then json_merge_patch(
                spec_product(rand_b % 500, 1 + rand_a % 3),
                json_object('currency', 'EUR', 'cart_id', 'cart-' || left(anonymous_id_value, 15)))
            when 'Checkout Started' then json_object(
                'order_id', 'o-' || left(message_hash, 12),
                'value', spec_subtotal(product_numbers),
                'revenue', spec_subtotal(product_numbers),
                'currency', 'EUR',
                'products', list_transform(product_numbers, lambda n: spec_product(n, 1)))
            when 'Order Completed' then json_object(
                'order_id', 'o-' || left(message_hash, 12),
                'checkout_id', 'co-' || left(message_hash, 10),
                'total', round(spec_subtotal(product_numbers) + 4.95, 2),
                'subtotal', spec_subtotal(product_numbers),
                'revenue', spec_subtotal(product_numbers),
                'shipping', 4.95,
                'tax', round(spec_subtotal(product_numbers) * 0.19, 2),
                'currency', 'EUR',
                'products', list_transform(product_numbers, lambda n: spec_product(n, 1)))
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
            when 'Products Searched' then json_object(
                'query',
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
        case call_type
            when 'identify' then json_object('email', user_id_value || '@example.com', 'name', 'Shopper ' || user_idx)
            -- a company account: everything derives from the group's number
            when 'group' then json_object(
                'name', group_name,
                'industry', ['retail', 'software', 'logistics', 'healthcare', 'media', 'manufacturing'][
                    1 + group_idx % 6],
                'employees', [4, 18, 45, 130, 600, 4200][1 + (group_idx * 7) % 6] + group_idx % 11,
                'plan', ['free', 'starter', 'business', 'enterprise'][1 + (group_idx * 3) % 4],
                'website', 'https://' || lower(replace(group_name, ' ', '-')) || '.example.com',
                'created_at', utc_time($start - to_days(30 + (group_idx * 37) % 900)))
        end as traits,
        json_object('path', path, 'url', url, 'referrer', referrer, 'title', 'Shop ' || path) as page_context,
        case campaign
            when 1 then json_object(
                'source', 'google', 'medium', 'cpc', 'name', 'autumn_sale',
                'term', ['running shoes', 'rain jacket', 'wool beanie', 'weekender bag', 'crew socks'][1 + rand_a % 5],
                'content', 'ad-' || (1 + rand_b % 3))
            when 2 then json_object('source', 'newsletter', 'medium', 'email', 'name', 'weekly')
            -- half of Facebook's traffic is paid
            when 3 then json_object(
                'source', 'facebook', 'medium', case when rand_b % 2 = 0 then 'paid_social' else 'social' end,
                'name', 'autumn_sale')
            when 4 then json_object('source', 'partner', 'medium', 'affiliate', 'name', 'affiliates')
        end as campaign_context
    from shaped
),

messages as (
    select
        seq,
        fault_kind,
        fault_delay_ms,
        first_received_at,
        batch_key,
        -- the device's part of the context: a batch envelope holds it for its members
        case when batch_key >= 0 then json_object('ip', ip, 'userAgent', user_agent, 'locale', locale) end
            as device_context,
        case when batch_key >= 0 then utc_time(client_sent_at) end as envelope_sent_at,
        '{' || concat_ws(
            ',',
            json_field(
                'messageId',
                substr(message_hash, 1, 8) || '-' || substr(message_hash, 9, 4) || '-'
                || substr(message_hash, 13, 4) || '-' || substr(message_hash, 17, 4) || '-'
                || substr(message_hash, 21, 12)
            ),
            json_field('type', call_type),
            json_field('event', case when call_type = 'track' then sent_name end),
            json_field('name', case
                when call_type = 'screen' then json_extract_string(properties, '$.name')
                when call_type = 'page' then ['Home', 'Catalog', 'Product', 'Cart', 'Search', 'How to choose',
                    'Account', 'Pricing'][1 + path_index]
            end),
            json_field('category', case when call_type = 'page' then ['Shop', 'Shop', 'Shop', 'Shop', 'Shop',
                'Blog', 'Account', 'Shop'][1 + path_index] end),
            json_field('userId', case
                when has_user_id and legacy_user_id then legacy_id_value
                when has_user_id then user_id_value
            end),
            json_field('anonymousId', case when has_anonymous_id then anonymous_id_value end),
            json_field('previousId', case alias_kind
                when 1 then anonymous_id_value
                when 2 then legacy_id_value
            end),
            json_field('groupId', case when call_type = 'group' then group_id_value end),
            -- Segment's timestamp; a message without it has originalTimestamp (the client's clock)
            -- and a sentAt on the same clock, so receivedAt - (sentAt - originalTimestamp) is the time
            json_field('timestamp', case when not original_only then local_time(occurred_at, utc_offset_hours) end),
            json_field('originalTimestamp', case
                when original_only then local_time(occurred_at + to_milliseconds(clock_skew_ms), utc_offset_hours)
            end),
            -- batch members take sentAt, receivedAt and the device's context from their envelope
            json_field('sentAt', case
                when batch_key >= 0 then null
                when original_only then utc_time(client_sent_at)
                else utc_time(occurred_at)
            end),
            json_field('receivedAt', case when batch_key < 0 then utc_time(first_received_at) end),
            json_field('properties', case when call_type in ('track', 'page', 'screen') then properties end),
            -- RudderStack's identify sends its traits under context.traits only
            json_field('traits', case when not (call_type = 'identify' and rudderstack) then traits end),
            json_field('context', case
                -- a merge patch over {} leaves out the null fields
                when batch_key >= 0 then json_merge_patch('{}', json_object(
                    'page', page_context, 'campaign', campaign_context,
                    'traits', case when call_type = 'identify' and rudderstack then traits end))
                when call_type = 'identify' and rudderstack then json_object(
                    'ip', ip, 'userAgent', user_agent, 'locale', locale, 'page', page_context,
                    'campaign', campaign_context, 'traits', traits)
                else json_object(
                    'ip', ip, 'userAgent', user_agent, 'locale', locale, 'page', page_context,
                    'campaign', campaign_context)
            end)
        ) || '}' as message,
        rand_a
    from with_payloads
),

first_copies as (
    select
        seq,
        fault_kind,
        fault_delay_ms,
        batch_key,
        device_context,
        envelope_sent_at,
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

-- (from first_copies, not messages, so that the messages are not held twice)
duplicate_copies as (
    select
        seq,
        1 as copy,
        received_at + to_milliseconds(fault_delay_ms // 2) as received_at,
        cast(json_merge_patch(
            line,
            json_object('receivedAt', utc_time(received_at + to_milliseconds(fault_delay_ms // 2)))
        ) as varchar) as line
    from first_copies
    where fault_kind = 'duplicate'
),

-- Batch members stay rows for now, their envelope's fields beside them: the statements below
-- gather them into envelopes (apart, the peak memory at 1M events was 1.27 GB instead of 1.45).
all_copies as (
    select seq, copy, received_at, line, batch_key, device_context, envelope_sent_at from first_copies
    union all
    select seq, copy, received_at, line, -1, null, null from duplicate_copies
)

select
    seq,
    copy,
    epoch_ms(received_at) as received_ms,
    cast(received_at as date) as day,
    line,
    batch_key,
    device_context,
    envelope_sent_at
from all_copies;

-- @gather_batches
-- generate.py runs the statements below apart, without parameters: DuckDB binds parameters to the
-- last statement of a script only.

-- The HTTP tracking API's /v1/batch shape: the members, then what they share.
create table batch_lines as
select
    min(seq) as seq,
    0 as copy,
    any_value(received_ms) as received_ms,
    any_value(day) as day,
    -- the members in order: sorting each batch's short list is cheaper than an ordered aggregate
    '{"batch":['
    || array_to_string(list_transform(list_sort(list({'seq': seq, 'line': line})), lambda m: m.line), ',')
    || '],'
    || json_field('context', any_value(device_context)) || ','
    -- the shortest latency of its members: within every member's bound
    || json_field('sentAt', max(envelope_sent_at)) || ','
    || json_field('receivedAt', utc_time(epoch_ms(any_value(received_ms)))) || '}' as line,
    -1 as batch_key,
    null as device_context,
    null as envelope_sent_at
from lines
where batch_key >= 0
group by batch_key;

delete from lines where batch_key >= 0;

insert into lines select * from batch_lines;

drop table batch_lines;
