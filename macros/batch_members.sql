{#- A batch member's JSON text completed from its envelope's (texts): its context merged over the
    envelope's, and the envelope's sentAt and receivedAt where it has none. The patch holds only
    those keys, so a null the member sends elsewhere (properties.coupon: null) stays null rather
    than deleting its key. `needed_when`: a condition (SQL) true of the rows that are members. -#}
{% macro batch_member_with_envelope(member, context, sent_at, received_at, needed_when='true') -%}
    {%- set document = json_document(member) -%}
    {%- set patch -%}
        '{' || concat_ws(
            ',',
            '"context":' || {{ json_merge_patch_text(context, "coalesce(" ~ json_text(json_at(document, '$.context')) ~ ", '{}')", needed_when) }},
            case when not {{ json_has(document, '$.sentAt') }} then '"sentAt":' || {{ sent_at }} end,
            case when not {{ json_has(document, '$.receivedAt') }} then '"receivedAt":' || {{ received_at }} end
        ) || '}'
    {%- endset -%}
    {{ json_merge_patch_text(member, patch, needed_when) }}
{%- endmacro %}
