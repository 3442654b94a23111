{#-
  Incremental bookkeeping. Every incremental model processes the upstream rows stamped (`_loaded_at` /
  `_processed_at`) after its own watermark, and moves the watermark in the same transaction as its
  insert (a post-hook runs inside the model's transaction). A run killed midway leaves each model's
  watermark where its last committed write put it, so the rerun picks up exactly what was missed.
  A model's own rows cannot serve as its watermark: a batch may legitimately produce none.
-#}

{#- on-run-start: the watermarks, the scoped data tests' passes (macros/tests/test_passes.sql) and
    the partitions events moved out of or within (record_moved_partitions). -#}
{% macro create_meta_tables() %}
    {{ return(adapter.dispatch('create_meta_tables', 'event_analytics')()) }}
{% endmacro %}

{% macro default__create_meta_tables() %}
    create schema if not exists meta;
    create table if not exists meta.incremental_watermarks (
        model_name varchar primary key,
        processed_through timestamp not null
    );
    create table if not exists meta.data_test_passes (
        test_name varchar primary key,
        passed_at timestamp not null
    );
    create table if not exists meta.moved_partitions (
        partition_key varchar not null,
        moved_at timestamp not null
    );
    -- The ledger of loaded landing files (macros/landing.sql): what an incremental run compares
    -- the landing folder with; `lines` is the file's non-blank line count, taken from its bytes.
    create table if not exists meta.landing_files (
        path varchar primary key,
        size_bytes bigint not null,
        modified_at timestamp not null,
        etag varchar,
        lines bigint not null,
        blank_lines bigint not null,
        loaded_at timestamp not null
    );
{% endmacro %}

{#- Spark's file tables have neither keys nor NOT NULL: writers append, readers take the latest
    row of a key (max), as they do on DuckDB. -#}
{% macro spark__create_meta_tables() %}
    {%- do run_statements([
        'create schema if not exists meta',
        'create table if not exists meta.incremental_watermarks (model_name string, processed_through timestamp)',
        'create table if not exists meta.data_test_passes (test_name string, passed_at timestamp)',
        'create table if not exists meta.moved_partitions (partition_key string, moved_at timestamp)',
        'create table if not exists meta.landing_files (path string, size_bytes bigint, modified_at timestamp,'
            ~ ' etag string, lines bigint, blank_lines bigint, loaded_at timestamp)',
    ]) -%}
{% endmacro %}

{% macro run_timestamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}

{#- The run time up to which this model has already processed its inputs, as a SQL literal: a
    constant lets DuckDB skip old row groups by their min/max, where a subquery would scan them.
    `settings`: configuration the model's stored rows were computed with (e.g. the funnel
    definitions); when it changes the watermark starts again from 1970, so everything is redone. -#}
{% macro watermark(settings=none) -%}
    {%- set processed_through = '1970-01-01 00:00:00' -%}
    {%- if execute -%}
        {%- set query -%}
            select cast(max(processed_through) as {{ dbt.type_string() }})
            from meta.incremental_watermarks
            where
                model_name = '{{ watermark_key(settings) }}'
                -- unless the model has been run with other settings since (Spark keeps their rows)
                and processed_through >= (
                    select max(latest.processed_through)
                    from meta.incremental_watermarks as latest
                    where
                        latest.model_name = '{{ this.identifier }}'
                        or left(latest.model_name, {{ this.identifier | length + 1 }}) = '{{ this.identifier }}@'
                )
        {%- endset -%}
        {%- set found = run_query(query).columns[0].values()[0] -%}
        {%- if found is not none -%}{%- set processed_through = found -%}{%- endif -%}
    {%- endif -%}
    cast('{{ processed_through }}' as timestamp)
{%- endmacro %}

{#- With `settings`, the watermarks of the model's other settings go: its rows now follow these, so
    a return to earlier settings must redo everything too. -#}
{% macro record_watermark(settings=none) %}
    {%- if settings is not none %}{{ forget_other_settings() }}{% endif %}
    {{ upsert_meta_row('meta.incremental_watermarks', {
        'model_name': sql_string(watermark_key(settings)),
        'processed_through': run_timestamp(),
    }) }}
{% endmacro %}

{% macro forget_other_settings() -%}
    {{ return(adapter.dispatch('forget_other_settings', 'event_analytics')()) }}
{%- endmacro %}

{% macro default__forget_other_settings() -%}
    delete from meta.incremental_watermarks where starts_with(model_name, '{{ this.identifier }}@');
{%- endmacro %}

{#- Spark's file tables cannot delete rows: `watermark` ignores a key run before the model's latest. -#}
{% macro spark__forget_other_settings() -%}{%- endmacro %}

{% macro watermark_key(settings=none) -%}
    {{ this.identifier }}{% if settings is not none %}@{{ local_md5(tojson(settings)) }}{% endif %}
{%- endmacro %}

{#- Pre-hook of an append model keyed by nothing but its watermark: rows stamped after it were
    written by a run that stopped before recording it (on DuckDB, never: the insert and the
    watermark commit together; on Spark they are separate statements), and are written again now. -#}
{% macro delete_rows_past_watermark(stamp_column) %}
    {%- if is_incremental() %}
        {{ delete_rows(this, stamp_column ~ ' > ' ~ watermark()) }}
    {%- endif %}
{% endmacro %}

{#-
  Models kept per user (user_key): an incremental run deletes and recomputes the users whose
  events moved since the model's watermark (int_identity__user_partitions), including users left
  with no events at all, whom a delete+insert keyed on the new rows would miss. The delete is a
  pre-hook, so it commits with the insert and the watermark.
-#}
{% macro rebuilt_users(settings=none) -%}
    select rebuilt_pairs.user_key
    from {{ ref('int_identity__user_partitions') }} as rebuilt_pairs
    where rebuilt_pairs._processed_at > {{ watermark(settings) }}
{%- endmacro %}

{% macro delete_rebuilt_users(settings=none) %}
    {%- if is_incremental() %}
        {{ delete_rows(this, 'user_key in (' ~ rebuilt_users(settings) ~ ')') }}
    {%- endif %}
{% endmacro %}

{#-
  int_events__sessionized's pre-hook, before its rows change: the partitions that a re-decided copy
  moved an event out of, into, or within in time (the kept copy of a messageId changed and differs
  from the stored one). They are rebuilt whole. A partition an event left may keep no event at all,
  and so no row stamped by this run: fct_sessions and int_identity__user_partitions read these
  to drop its sessions and retire its pairs.
-#}
{% macro record_moved_partitions(settings=none) %}
    {%- if is_incremental() %}
        insert into meta.moved_partitions (partition_key, moved_at)
        select distinct
            {{ unnest_list(list_of(['earlier_rows.partition_key', 'changed_events.partition_key'])) }},
            {{ run_timestamp() }}
        from {{ this }} as earlier_rows
        inner join {{ ref('int_events__deduplicated') }} as changed_events
            on earlier_rows.event_id = changed_events.event_id
        where
            changed_events._processed_at > {{ watermark(settings) }}
            and (
                earlier_rows.occurred_at != changed_events.occurred_at
                or earlier_rows.partition_key != changed_events.partition_key
            )
    {%- endif %}
{% endmacro %}

{#- The partitions moved since this model's watermark (record_moved_partitions). -#}
{% macro moved_partitions(settings=none) -%}
    select moved.partition_key from meta.moved_partitions as moved where moved.moved_at > {{ watermark(settings) }}
{%- endmacro %}

{#- fct_sessions' pre-hook: see the model. A moved partition was rebuilt whole, or emptied. New
    settings (the rule seeds changed) rebuild every session: all stored rows go. -#}
{% macro delete_rebuilt_sessions(settings=none) %}
    {%- if is_incremental() and not has_watermark(settings) %}
        {{ delete_rows(this, 'true') }}
    {%- elif is_incremental() %}
        {{ adapter.dispatch('delete_rebuilt_sessions', 'event_analytics')(settings) }}
    {%- endif %}
{% endmacro %}

{% macro default__delete_rebuilt_sessions(settings) %}
        delete from {{ this }} as stored_sessions
        using ({{ rebuilt_session_parts(settings) }}) as rebuilt_parts
        where
            stored_sessions.partition_key = rebuilt_parts.partition_key
            and stored_sessions.session_index >= rebuilt_parts.first_rebuilt_index
{% endmacro %}

{% macro spark__delete_rebuilt_sessions(settings) %}
    {%- do replace_table_rows(this, [
        'select stored_sessions.* from ' ~ this ~ ' as stored_sessions\n'
        ~ 'left anti join (' ~ rebuilt_session_parts(settings) ~ ') as rebuilt_parts\n'
        ~ 'on stored_sessions.partition_key = rebuilt_parts.partition_key'
        ~ ' and stored_sessions.session_index >= rebuilt_parts.first_rebuilt_index'
    ]) -%}
{% endmacro %}

{#- Per partition, the first session index rebuilt since the watermark (0: all of them). -#}
{% macro rebuilt_session_parts(settings) -%}
            select
                partition_key,
                min(session_index) as first_rebuilt_index
            from {{ ref('int_events__sessionized') }}
            where _processed_at > {{ watermark(settings) }}
            group by partition_key
            union all
            select
                partition_key,
                0 as first_rebuilt_index
            from ({{ moved_partitions(settings) }}) as moved
{%- endmacro %}

{#-
  The rows of this incremental pair model (`keys`: its key columns; `carried`: the other columns
  kept) among `scope` (a condition on `earlier_pairs`) that `current` (the CTE of the pairs rebuilt
  now) no longer holds. They are kept, as retired, so that models downstream learn which keys to
  recompute: stamped with this run's time when they retire, keeping that stamp afterwards.
-#}
{% macro retired_pairs(keys, carried, current, scope) %}
    select
        {%- for column in keys + carried %}
        earlier_pairs.{{ column }},
        {%- endfor %}
        case
            when earlier_pairs.is_current then {{ run_timestamp() }}
            else earlier_pairs._processed_at
        end as _processed_at
    from {{ this }} as earlier_pairs
    {{ anti_join() }} {{ current }}
        on
        {%- for column in keys %}
            {{ 'and ' if not loop.first }}earlier_pairs.{{ column }} = {{ current }}.{{ column }}
        {%- endfor %}
    where {{ scope }}
{% endmacro %}

{#- What fct_sessions' stored rows follow beyond its input: the rule seeds its channel and device
    columns come from (macros/reference_data.sql). -#}
{% macro fct_sessions_settings() -%}
    {{ return(reference_settings({
        'channel_groupings': 'rule_order',
        'source_categories': 'source',
        'user_agent_patterns': 'rule_order',
    })) }}
{%- endmacro %}
