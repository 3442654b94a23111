{#-
  Landing files reach dbt through the load plan the CLI writes before dbt starts (ingest.py):
  warehouse_plugin registers `landing_lines` (the plan's files as numbered lines, in chunks),
  `landing_file_outcomes` (each planned file's stamp and line count, or why it was rejected) and
  `landing_reread_lines` (loaded files read again, chosen by `landing_prepare_reread`) on every
  connection.
-#}

{#- Clears the ledger when staging is built from scratch: a full refresh loads every file again. -#}
{% macro reset_landing_ledger() %}
    {{ return(adapter.dispatch('reset_landing_ledger', 'event_analytics')()) }}
{% endmacro %}

{% macro default__reset_landing_ledger() %}
    {%- if not is_incremental() %}
        truncate table meta.landing_files
    {%- endif %}
{% endmacro %}

{#- Spark has no transaction around staging's insert and its post-hook's ledger rows: the lines of
    files a stopped run inserted without recording them go, as they load again now. -#}
{% macro spark__reset_landing_ledger() %}
    {%- if not is_incremental() %}
        truncate table meta.landing_files
    {%- else %}
        {{ delete_rows(this, 'source_file not in (select loaded_files.path from meta.landing_files as loaded_files)') }}
    {%- endif %}
{% endmacro %}

{#-
  stg_segment__events' post-hook, in its transaction: files read whole go into the ledger; the
  lines already inserted of a file whose reading failed part way (a truncated gzip, an I/O error,
  a file that changed while read) are removed again, so the file loads whole on a later run.
-#}
{% macro record_loaded_files() %}
    {{ return(adapter.dispatch('record_loaded_files', 'event_analytics')()) }}
{% endmacro %}

{% macro default__record_loaded_files() %}
    {{ ledger_rows_of_read_files() }};

    delete from {{ this }}
    where
        _loaded_at = {{ run_timestamp() }}
        and source_file in (
            select source_file from {{ source('landing', 'file_outcomes') }}
            where reason is not null
        );
{% endmacro %}

{#- On Spark the lines are staged before dbt starts (event_analytics.spark_session), without the
    lines of a file whose reading failed: there is nothing to remove. -#}
{% macro spark__record_loaded_files() %}
    {{ ledger_rows_of_read_files() }}
{% endmacro %}

{% macro ledger_rows_of_read_files() %}
    insert into meta.landing_files (path, size_bytes, modified_at, etag, lines, blank_lines, loaded_at)
    select
        source_file,
        size_bytes,
        modified_at,
        etag,
        lines,
        blank_lines,
        {{ run_timestamp() }}
    from {{ source('landing', 'file_outcomes') }}
    where reason is null
{% endmacro %}

{#- The numbered lines of a relation of landing chunks (source landing): a chunk holds whole lines
    joined by a newline, split here, where DuckDB does it on every core; a line with an issue
    travels alone. -#}
{% macro landing_lines_from(chunks) %}
    {{ return(adapter.dispatch('landing_lines_from', 'event_analytics')(chunks)) }}
{% endmacro %}

{% macro default__landing_lines_from(chunks) %}
    select
        source_file,
        raw_bytes,
        line_issue,
        line_bytes,
        file_modified_at,
        first_line_number + generate_subscripts(split_lines, 1) - 1 as line_number,
        unnest(split_lines) as raw_line
    from (
        select
            source_file,
            first_line_number,
            raw_bytes,
            line_issue,
            line_bytes,
            file_modified_at,
            case when line_issue is null then string_split(text, chr(10)) else [text] end as split_lines
        from {{ chunks }}
    ) as chunks
{% endmacro %}

{#- Spark's split takes a pattern: a newline is one. -#}
{% macro spark__landing_lines_from(chunks) %}
    select
        source_file,
        raw_bytes,
        line_issue,
        line_bytes,
        file_modified_at,
        first_line_number + line_index as line_number,
        raw_line
    from (
        select
            source_file,
            first_line_number,
            raw_bytes,
            line_issue,
            line_bytes,
            file_modified_at,
            posexplode(
                case when line_issue is null then split(text, {{ sql_string('\n') }}, -1) else array(text) end
            ) as (line_index, raw_line)
        from {{ chunks }}
    ) as chunks
{% endmacro %}

{#-
  duplicate_events: chooses the loaded files that hold a discarded copy it re-decides, for
  `landing_reread_lines` to read again (staging is absent only when compiling for lint).
-#}
{% macro prepare_landing_reread() %}
    {%- if load_relation(ref('stg_segment__events')) is none %}{{ return('') }}{% endif -%}
    {%- do adapter.dispatch('prepare_landing_reread', 'event_analytics')() %}
{% endmacro %}

{% macro default__prepare_landing_reread() %}
    {%- set choose_files %}
        {{ loaded_files_with_discarded_copies() }}
        select landing_prepare_reread(list({
            'source_file': path,
            'size_bytes': size_bytes,
            'modified_us': epoch_us(modified_at)
        }))
        from chosen_files
    {%- endset %}
    {%- do run_query(choose_files) %}
{% endmacro %}

{#- Spark: the view reads the chosen files through the landing_reread table function
    (event_analytics.spark_session), given them as JSON. -#}
{% macro spark__prepare_landing_reread() %}
    {%- set choose_files %}
        {{ loaded_files_with_discarded_copies() }}
        select to_json(collect_list(named_struct(
            'source_file', path,
            'size_bytes', size_bytes,
            'modified_us', unix_micros(modified_at)
        )))
        from chosen_files
    {%- endset %}
    {%- set files = run_query(choose_files).columns[0].values()[0] or '[]' %}
    {%- do run_query(
        'create or replace global temporary view landing_reread_lines as select * from landing_reread('
        ~ sql_string(files) ~ ')'
    ) %}
{% endmacro %}

{#- The ledger's rows (meta.landing_files) of the files that hold a discarded copy to re-decide, as
    CTEs ending in `chosen_files`. -#}
{% macro loaded_files_with_discarded_copies() %}
        with

        kept_copies as (
            {{ kept_copies_to_redecide() }}
        ),

        files_with_discarded_copies as (
            select distinct lines.source_file
            from {{ ref('stg_segment__events') }} as lines
            inner join kept_copies
                on
                    lines.event_id = kept_copies.event_id
                    and (
                        lines.source_file != kept_copies.source_file
                        or lines.line_number != kept_copies.line_number
                        or lines.batch_index is distinct from kept_copies.batch_index
                    )
            where lines.reject_reason is null
        ),

        chosen_files as (
            select
                loaded_files.path,
                loaded_files.size_bytes,
                loaded_files.modified_at
            from meta.landing_files as loaded_files
            where loaded_files.path in (select source_file from files_with_discarded_copies)
        )
{% endmacro %}

{#- The lines of `lines` at the (source_file, line_number) of a row of `positions`. -#}
{% macro lines_at_positions(lines, positions) %}
    {{ return(adapter.dispatch('lines_at_positions', 'event_analytics')(lines, positions)) }}
{% endmacro %}

{#- An IN in the select list is a mark join, whose hash table is always the few positions. As a
    join, DuckDB hashed every reread line instead and spilled 1.9 GB at 10M events: 29 s, against
    9 s this way. -#}
{% macro default__lines_at_positions(lines, positions) %}
    select
        source_file,
        line_number,
        raw_line
    from (
        select
            source_file,
            line_number,
            raw_line,
            (source_file, line_number) in (
                select ({{ positions }}.source_file, {{ positions }}.line_number) from {{ positions }}
            ) as is_wanted
        from {{ lines }}
    ) as marked_lines
    where is_wanted
{% endmacro %}

{% macro spark__lines_at_positions(lines, positions) %}
    select
        {{ lines }}.source_file,
        {{ lines }}.line_number,
        {{ lines }}.raw_line
    from {{ lines }}
    left semi join {{ positions }}
        on
            {{ lines }}.source_file = {{ positions }}.source_file
            and {{ lines }}.line_number = {{ positions }}.line_number
{% endmacro %}

{#- duplicate_events: the kept copy of each repeated id it re-decides this run. -#}
{% macro kept_copies_to_redecide() %}
    select
        event_id,
        source_file,
        line_number,
        batch_index
    from {{ ref('int_events__deduplicated') }}
    where
        copy_count > 1
        {%- if is_incremental() %}
            and _processed_at > {{ watermark() }}
        {%- endif %}
{% endmacro %}

{#- Whether duplicate_events rereads discarded copies from landing files (unit tests turn it off). -#}
{% macro reread_landing_files() %}
    {{ return(true) }}
{% endmacro %}
