{#-
  Personal data handling, driven by the tracking plan (its `pii` section and each field's `pii`,
  `pii_handling`, `enum` and `format`). Staging applies these so that nothing downstream of it, and
  so no mart, holds personal data; only quarantine keeps raw lines.
-#}

{#- One RE2 alternation of every redaction pattern: a cheap test before the replacements. -#}
{% macro pii_any_pattern() -%}
    {{ return(tracking_plan()['pii']['redact_any']) }}
{%- endmacro %}

{#- Free text with each match of a pattern replaced by [kind], e.g. [email]. -#}
{% macro redact_free_text(text) -%}
    {%- set redacted = namespace(sql=text) -%}
    {%- for kind, pattern in tracking_plan()['pii']['redact'].items() -%}
        {%- set redacted.sql = regex_replace_all(redacted.sql, pattern, '[' ~ kind ~ ']') -%}
    {%- endfor -%}
    case when {{ regex_contains(text, pii_any_pattern()) }} then {{ redacted.sql }} else {{ text }} end
{%- endmacro %}

{#- URL parameters ('a=1&b=2') without those named in pii.query_parameters or carrying PII. -#}
{% macro kept_url_parameters(parameters) -%}
    {%- set kept -%}
        parameter != ''
        and lower({{ url_decoded("split_part(parameter, '=', 1)") }}) not in (
            {{ sql_list(tracking_plan()['pii']['query_parameters']) }}
        )
        and not {{ regex_contains(url_decoded('parameter'), pii_any_pattern()) }}
    {%- endset -%}
    {{ list_joined(list_where(text_split(parameters, '&'), 'parameter', kept), '&') }}
{%- endmacro %}

{#- A URL without personal query parameters (and fragment parameters, as OAuth tokens travel there).
    The rare branch is the THEN: DuckDB measured paying for an ELSE's list lambdas on rows that never
    reach it (0.37 s per million URLs without a '?', 0.04 s this way round). -#}
{% macro strip_url_parameters(url) -%}
    case
        when contains({{ url }}, '?') or contains({{ url }}, '#')
            then regexp_extract({{ url }}, '^[^?#]*', 0)
            || coalesce('?' || nullif({{ kept_url_parameters("regexp_extract(" ~ url ~ ", " ~ sql_string('\\?([^#]*)') ~ ", 1)") }}, ''), '')
            || coalesce('#' || nullif({{ kept_url_parameters("regexp_extract(" ~ url ~ ", '#(.*)$', 1)") }}, ''), '')
        else {{ url }}
    end
{%- endmacro %}

{#- IPv4 truncated to its /24 (a.b.c.0), IPv6 to its /48 (a:b:c::); anything else is dropped. -#}
{% macro truncate_ip(ip) -%}
    {%- set head = list_where(text_split("split_part(" ~ ip ~ ", '::', 1)", ':'), 'g', "g != ''") -%}
    {%- set tail = "case when contains(" ~ ip ~ ", '::') then " ~ list_where(text_split("split_part(" ~ ip ~ ", '::', 2)", ':'), 'g', "g != ''") ~ " else " ~ empty_text_list() ~ " end" -%}
    {%- set zeros = list_transform(
        integer_range(0, "greatest(8 - " ~ list_length(head) ~ " - " ~ list_length(tail) ~ ", 0)"), 'i', "'0'"
    ) -%}
    case
        when {{ regex_full_match(ip, '\\d{1,3}(\\.\\d{1,3}){3}') }} then regexp_replace({{ ip }}, {{ sql_string('\\.\\d{1,3}$') }}, '.0')
        when {{ regex_full_match(ip, '[0-9A-Fa-f:]*:[0-9A-Fa-f:]*') }}
            then lower({{ list_joined(list_slice(list_concatenated([head, zeros, tail]), 1, 3), ':') }}) || '::'
    end
{%- endmacro %}

{#-
  HMAC-SHA256 of the trimmed, lower-cased text (of the text as it is with `normalize` false), hex.
  The key never appears in SQL: the dbt-duckdb plugin event_analytics.warehouse_plugin reads
  $EVENT_ANALYTICS_PII_KEY and sets the padded inner and outer keys as session variables (RFC 2104:
  H(K xor opad || H(K xor ipad || m))).
-#}
{% macro pii_hmac(text, normalize=true) -%}
    {{ return(adapter.dispatch('pii_hmac', 'event_analytics')('lower(trim(' ~ text ~ '))' if normalize else text)) }}
{%- endmacro %}

{% macro default__pii_hmac(text) -%}
    sha256(
        coalesce(getvariable('event_analytics_pii_outer'), error('EVENT_ANALYTICS_PII_KEY is not set'))
        || unhex(sha256(
            coalesce(getvariable('event_analytics_pii_inner'), error('EVENT_ANALYTICS_PII_KEY is not set'))
            || encode({{ text }})
        ))
    )
{%- endmacro %}

{#- On Spark the pads are session variables that event_analytics.spark_session declares. -#}
{% macro spark__pii_hmac(text) -%}
    sha2(
        concat(
            event_analytics_pii_outer,
            unhex(sha2(concat(event_analytics_pii_inner, cast({{ text }} as binary)), 256))
        ),
        256
    )
{%- endmacro %}

{#-
  Whether an identifier (`name`: userId, anonymousId, groupId, messageId) is written as its HMAC,
  by the plan's `identity` rule: `hash` always, `hash_if_pii` when it matches a pii.redact pattern
  and is not a UUID, `keep` never. Identifiers are hashed as sent, not lower-cased: they are keys,
  and `A1` and `a1` are two users.
-#}
{% macro identifier_is_hashed(value, name) -%}
    {%- set handling = tracking_plan()['identity'][name] -%}
    {%- if handling == 'keep' -%}
        false
    {%- elif handling == 'hash' -%}
        {{ value }} is not null
    {%- else -%}
        coalesce(
            {{ regex_contains(value, pii_any_pattern()) }}
            and not {{ regex_full_match(value, '[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}') }},
            false
        )
    {%- endif -%}
{%- endmacro %}

{#- An identifier as staging writes it: as sent, or its HMAC (identifier_is_hashed). -#}
{% macro pii_safe_identifier(value, name) -%}
    {%- if tracking_plan()['identity'][name] == 'keep' -%}
        {{ value }}
    {%- else -%}
        case when {{ identifier_is_hashed(value, name) }} then {{ pii_hmac(value, normalize=false) }} else {{ value }} end
    {%- endif -%}
{%- endmacro %}

{#- A text value made safe for the marts according to its plan entry (null when dropped). -#}
{% macro pii_safe_text(text, spec) -%}
    {%- if spec['pii'] and spec['pii_handling'] == 'hash' -%}
        {{ pii_hmac(text) }}
    {%- elif spec['pii'] and spec['pii_handling'] == 'truncate_ip' -%}
        {{ truncate_ip(text) }}
    {%- elif spec['pii'] -%}
        null
    {%- elif spec['format'] == 'url' -%}
        {{ strip_url_parameters(redact_free_text(text)) }}
    {%- elif spec['enum'] is not none -%}
        case
            when {{ text }} in ({{ sql_list(spec['enum']) }})
                then {{ text }}
            else {{ redact_free_text(text) }}
        end
    {%- else -%}
        {{ redact_free_text(text) }}
    {%- endif -%}
{%- endmacro %}

{#-
  A JSON value made safe, or null (dropped): wrong types and PII-looking numbers do not pass. An
  array with `items` or an object with `properties` is rebuilt by the same rules, recursively:
  an element that does not pass becomes null (positions are kept); an object keeps only its
  declared fields. `depth` names the lambdas of nested levels apart.
-#}
{% macro pii_safe_json(value, spec, depth=0) -%}
    {%- set json_type = json_kind(value) -%}
    {%- set text = json_scalar_text(value) -%}
    {%- if spec['pii'] and spec['pii_handling'] == 'drop' -%}
        null
    {%- elif spec['type'] in ('string', 'timestamp') or spec['pii'] -%}
        case when {{ json_type }} = 'VARCHAR' then {{ json_string_value(pii_safe_text(text, spec)) }} end
    {%- elif spec['type'] in ('integer', 'number') -%}
        {#- 13+ digits could be a card number; phone and IP shapes need separators a number lacks. -#}
        case
            when {{ json_type }} in ({{ sql_list(plan_json_types(spec['type'])) }})
                and abs(try_cast({{ text }} as double)) < 1e12
                then {{ value }}
        end
    {%- elif spec['type'] == 'boolean' -%}
        case when {{ json_type }} = 'BOOLEAN' then {{ value }} end
    {%- elif spec['type'] == 'array' and spec.get('items') is not none -%}
        {%- set element = 'pii_element_' ~ depth -%}
        case
            when {{ json_type }} = 'ARRAY'
                then {{ json_parse("'[' || " ~ list_joined(list_transform(
                    json_elements(value),
                    element,
                    "coalesce(" ~ json_text('(' ~ pii_safe_json(element, spec['items'], depth + 1) ~ ')') ~ ", 'null')"
                ), ',') ~ " || ']'") }}
        end
    {%- elif spec['type'] == 'object' and spec.get('properties') is not none -%}
        case
            when {{ json_type }} = 'OBJECT'
                then {{ pii_safe_object(value, spec['properties'], depth) }}
        end
    {%- else -%}
        case
            when {{ json_type }} in ('OBJECT', 'ARRAY')
                and not {{ regex_contains(json_text(value), pii_any_pattern()) }}
                then {{ value }}
        end
    {%- endif -%}
{%- endmacro %}

{#-
  A JSON object rebuilt from its declared fields (`fields`: name -> spec), each made safe; a
  dropped or absent field is left out, a null sent stays null. One json_extract takes the kept
  fields' values as a list, bound to a lambda's parameter (a list of one, transformed).
-#}
{% macro pii_safe_object(value, fields, depth=0) -%}
    {%- set kept = [] %}
    {%- for name, spec in fields.items() if not (spec['pii'] and spec['pii_handling'] == 'drop') %}
        {%- do kept.append((name, spec)) %}
    {%- endfor %}
    {%- set found = 'pii_fields_' ~ depth -%}
    {%- if kept -%}
        {%- set paths = [] %}
        {%- for name, spec in kept %}{% do paths.append(json_top_key_path(name)) %}{% endfor %}
        {%- set object -%}
            '{' || concat_ws(
                ','
            {%- for name, spec in kept %}
                {%- set field = nth(found, loop.index) %}
                , {{ sql_string(tojson(name) ~ ':') }} || coalesce(
                    {{ json_text('(' ~ pii_safe_json(field, spec, depth + 1) ~ ')') }},
                    case when {{ json_kind(field) }} = 'NULL' then 'null' end
                )
            {%- endfor %}
            ) || '}'
        {%- endset -%}
        {{ nth(list_transform(list_of([json_at_each(value, paths)]), found, json_parse(object)), 1) }}
    {%- else -%}
        {{ json_parse("'{}'") }}
    {%- endif -%}
{%- endmacro %}

{#- Whether a field's spec, or one nested in it, is personal data. -#}
{% macro plan_spec_is_personal(spec) -%}
    {%- set personal = [spec['pii']] %}
    {%- if spec.get('items') is not none %}
        {%- do personal.append(plan_spec_is_personal(spec['items'])) %}
    {%- endif %}
    {%- for child in (spec.get('properties') or {}).values() %}
        {%- do personal.append(plan_spec_is_personal(child)) %}
    {%- endfor %}
    {{ return(true in personal) }}
{%- endmacro %}

{#-
  An event's planned properties (or traits) as PII-safe JSON: undeclared keys do not pass (their
  meaning and sensitivity are unknown), nor dropped values; a null sent stays null. Null for an
  event that declares none of the section, and for unplanned events; {} for a planned event sent
  without the object.
  Most objects need no change, and rebuilding each from its values measured 1.9 s per million lines,
  so an object passes as sent (its own key order and spacing) unless the event declares a personal
  field in the section or section_passes_as_sent finds something a rebuild could change
  (pii_section_rebuilt). A rebuild takes the declared values (pii_field_values), makes each safe
  (pii_safe_field_values), and assembles the object as text from their JSON, cast once (json_object
  with json_merge_patch exhausted a 3.5 GB memory limit at 10M events).
  Each distinct field (name and spec) is made safe once, whichever events declare it: the e-commerce
  events share their product fields, and repeating each field's patterns per event made DuckDB spend
  seconds planning staging. The three steps are columns of successive CTEs, not one expression
  binding values through a lambda: DuckDB sets up a lambda's body again for every chunk of rows, and
  with these patterns in it that cost 25 s per million lines.
-#}

{#- The section's fields as pii_safe_section's macros need them: the declaring and personal events,
    the distinct fields (name, spec, [(event, SQL of its value)]), and each event's kept fields
    (name, 1-based index into the distinct fields, SQL of its value). -#}
{% macro pii_section_fields(section) -%}
    {%- set events = plan_events() %}
    {%- set declaring = events | dictsort | selectattr('1.' ~ section) | map(attribute='0') | list %}
    {%- set personal = [] %}
    {%- set keys = [] %}
    {%- set fields = [] %}
    {%- set kept = {} %}
    {%- for event_name in declaring %}
        {%- set event = events[event_name] %}
        {%- do kept.update({event_name: []}) %}
        {%- for name, spec in event[section].items() %}
            {%- if plan_spec_is_personal(spec) and event_name not in personal %}
                {%- do personal.append(event_name) %}
            {%- endif %}
            {%- if not (spec['pii'] and spec['pii_handling'] == 'drop') %}
                {%- set key = tojson([name, spec]) %}
                {%- if key not in keys %}
                    {%- do keys.append(key) %}
                    {%- do fields.append((name, spec, [])) %}
                {%- endif %}
                {%- set value = plan_value(event, section, name) %}
                {%- do fields[keys.index(key)][2].append((event_name, value)) %}
                {%- do kept[event_name].append((name, keys.index(key) + 1, value)) %}
            {%- endif %}
        {%- endfor %}
    {%- endfor %}
    {{ return({'declaring': declaring, 'personal': personal, 'fields': fields, 'kept': kept}) }}
{%- endmacro %}

{#- Whether the row's object of the section is rebuilt rather than passed as sent. -#}
{% macro pii_section_rebuilt(event_name_column, section, object_column, violations_column) -%}
    {%- set plan = pii_section_fields(section) %}
    coalesce(
        {{ event_name_column }} in ({{ sql_list(plan['declaring']) }})
        and {{ object_column }} is not null
        and (
            {%- if plan['personal'] %}{{ event_name_column }} in ({{ sql_list(plan['personal']) }}) or {% endif -%}
            not {{ section_passes_as_sent(object_column, section, violations_column, event_name_column) }}
        ),
        false
    )
{%- endmacro %}

{#- The values of the section's distinct fields on rows rebuilt (`rebuilt_column`), as a list. -#}
{% macro pii_field_values(event_name_column, section, rebuilt_column) -%}
    {%- set values = [] %}
    {%- for name, spec, sources in pii_section_fields(section)['fields'] %}
        {%- set value -%}
        case when {{ rebuilt_column }} then case {{ event_name_column }}
            {%- for event_name, value in sources %} when {{ sql_string(event_name) }} then {{ value }}{% endfor %} end end
        {%- endset %}
        {%- do values.append(value) %}
    {%- endfor %}
    {{ json_list_of(values) }}
{%- endmacro %}

{#- Each of pii_field_values' values made safe by its spec (pii_safe_json), as a list. -#}
{% macro pii_safe_field_values(section, values_column) -%}
    {%- set values = [] %}
    {%- for name, spec, sources in pii_section_fields(section)['fields'] %}
        {%- do values.append('(' ~ pii_safe_json(nth(values_column, loop.index), spec) ~ ')') %}
    {%- endfor %}
    {{ json_list_of(values) }}
{%- endmacro %}

{#- The section's object as staging writes it, from the rebuilt flag and the safe values above. -#}
{% macro pii_safe_section(event_name_column, section, object_column, rebuilt_column, safe_column) -%}
    {%- set plan = pii_section_fields(section) %}
    case
        when {{ event_name_column }} is null or {{ event_name_column }} not in ({{ sql_list(plan['declaring']) }}) then null
        when {{ object_column }} is null then {{ json_parse("'{}'") }}
        when {{ rebuilt_column }} then case {{ event_name_column }}
        {%- for event_name in plan['declaring'] %}
            when {{ sql_string(event_name) }} then
            {%- if plan['kept'][event_name] %}
                {%- set object -%}
                '{' || concat_ws(
                    ','
                {%- for name, index, value in plan['kept'][event_name] %}
                    , {{ sql_string(tojson(name) ~ ':') }} || coalesce(
                        {{ json_text(nth(safe_column, index)) }},
                        case when {{ json_kind(value) }} = 'NULL' then 'null' end
                    )
                {%- endfor %}
                ) || '}'
                {%- endset %}
                {{ json_parse(object) }}
            {%- else %} {{ json_parse("'{}'") }}
            {%- endif %}
        {%- endfor %}
        end
        else {{ object_column }}
    end
{%- endmacro %}

{#-
  True when rebuilding an object would give back the same values: no violation on the line
  (`violations_column`, staging's plan check), only declared keys, each once (as many keys as
  declared values found), and nothing in its text that a rebuild would change or drop: a PII
  pattern, '?' or '#' (URL parameters), a backslash (an escape could hide a pattern), a number of
  13 or more digits or with an exponent (numbers of 1e12 and more are dropped). Matching text only
  sends the object to the rebuild, so a false alarm costs time, never correctness. With
  `event_name_column`, the objects inside properties with a nested spec must hold only declared
  keys too, each once (plan_nested_keys_declared).
-#}
{% macro section_passes_as_sent(object_column, section, violations_column, event_name_column=none) -%}
    {%- set nested = [] %}
    {%- if event_name_column is not none %}
        {%- for event_name, event in plan_events() | dictsort %}
            {%- set conditions = [] %}
            {%- for name, spec in event[section].items() %}
                {%- do conditions.extend(plan_nested_keys_declared(list_of([plan_value(event, section, name)]), spec)) %}
            {%- endfor %}
            {%- if conditions %}
                {%- do nested.append((event_name, conditions)) %}
            {%- endif %}
        {%- endfor %}
    {%- endif %}
    (
        {{ violations_column }} is null
        and not {{ regex_contains(
            json_text(object_column),
            pii_any_pattern() ~ '|[?#\\\\]|[:,\\[]\\s*-?\\d{13}|[:,\\[]\\s*-?[\\d.]+[eE]'
        ) }}
        and {{ json_key_count(object_column) }} = {{ list_count_not_null(plan_values_column(section)) }}
        {%- if nested %}
        and case {{ event_name_column }}
            {%- for event_name, conditions in nested %}
            when {{ sql_string(event_name) }} then {{ conditions | join(' and ') }}
            {%- endfor %}
            else true
        end
        {%- endif %}
    )
{%- endmacro %}

{#-
  Conditions (SQL, a list) that every object at or below `values` (a list of JSON values a spec
  describes) that has declared `properties` holds only those keys, each once: as many keys as
  declared fields found. Null or wrongly typed values pass here (a violation rebuilds them).
-#}
{% macro plan_nested_keys_declared(values, spec) -%}
    {%- set conditions = [] %}
    {%- if spec['type'] == 'array' and spec.get('items') is not none %}
        {%- do conditions.extend(plan_nested_keys_declared(plan_nested_elements(values), spec['items'])) %}
    {%- elif spec['type'] == 'object' and spec.get('properties') is not none %}
        {%- set paths = [] %}
        {%- for name in spec['properties'] %}
            {%- do paths.append(json_top_key_path(name)) %}
        {%- endfor %}
        {%- set found = list_count_not_null(json_at_each('nested_value', paths)) if paths else "0" %}
        {%- set objects = list_where(values, 'nested_value', json_kind('nested_value') ~ " = 'OBJECT'") %}
        {%- do conditions.append(
            "coalesce(" ~ list_all(list_transform(objects, 'nested_value', json_key_count('nested_value') ~ " = " ~ found)) ~ ", true)"
        ) %}
        {%- for name, child in spec['properties'].items() %}
            {%- do conditions.extend(plan_nested_keys_declared(plan_nested_field(values, name), child)) %}
        {%- endfor %}
    {%- endif %}
    {{ return(conditions) }}
{%- endmacro %}
