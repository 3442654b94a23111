{#- The landing folder as given (DuckDB resolves a relative path against the working directory). -#}
{% macro landing_root() -%}
    {{ return((var('landing_path') | string).rstrip('/')) }}
{%- endmacro %}

{#- SQL listing every event file below the landing folder, as `file` (its full path). -#}
{% macro landing_file_listing() -%}
    select file from glob({{ sql_string(landing_root() ~ '/**/*.jsonl') }})
    union
    select file from glob({{ sql_string(landing_root() ~ '/**/*.jsonl.gz') }})
{%- endmacro %}

{#-
  Landing files this run must read: every *.jsonl / *.jsonl.gz below the landing folder, less the
  files the model already holds (an incremental run lists old files but never rereads them; a
  full refresh's post-hook passes skip_loaded to skip the files its first statement loaded).
  Paths are returned relative to the landing folder.
-#}
{% macro landing_files_to_load(skip_loaded=none) %}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set skip_loaded = is_incremental() if skip_loaded is none else skip_loaded -%}
    {%- set root = landing_root() -%}
    {%- set listing -%}
        with landing_files as (
            {{ landing_file_listing() }}
        )

        select substr(file, {{ root | length + 2 }}) as source_file
        from landing_files
        {%- if skip_loaded %}
            where substr(file, {{ root | length + 2 }}) not in (
                select distinct source_file from {{ this }}
            )
        {%- endif %}
        order by source_file
    {%- endset -%}
    {{ return(run_query(listing).columns[0].values() | list) }}
{% endmacro %}

{#- Bytes the given landing files take on disk (DuckDB reads only their sizes). -#}
{% macro landing_bytes(files) %}
    {%- if not execute or files | length == 0 -%}{{ return(0) }}{%- endif -%}
    {%- set paths = [] -%}
    {%- for file in files -%}{%- do paths.append(sql_string(landing_root() ~ '/' ~ file)) -%}{%- endfor -%}
    {{ return(run_query('select sum(size) from read_blob([' ~ paths | join(', ') ~ '])').columns[0].values()[0]) }}
{% endmacro %}

{#-
  Every line of the given files as text, with its file and 1-based physical line number. Read as
  one-column CSV that can never split or unquote, so a malformed line reaches quarantine verbatim
  (read_json would turn it into an all-null row and lose it). One scan per file, so `with
  ordinality` is the line number: numbering a multi-file scan instead needs a window over all the
  raw text, which measured slower than the parse itself. The CSV reader reserves buffers of
  landing_max_line_bytes per file scan, so that var stays modest (Segment caps a message at 32 KB);
  a longer line fails the run, naming the file and line.
-#}
{% macro read_landing_lines(files) %}
    {%- set root = landing_root() -%}
    {{ landing_scans_begin() }}
    {%- if files | length == 0 -%}
        select
            cast(null as varchar) as source_file,
            cast(null as bigint) as line_number,
            cast(null as varchar) as raw_line
        where false
    {%- else -%}
        {%- for file in files %}
            select
                {{ sql_string(file) }} as source_file,
                ordinality as line_number,
                json as raw_line
            from read_csv(
                {{ sql_string(root ~ '/' ~ file) }},
                columns = {'json': 'VARCHAR'},
                delim = chr(1),
                quote = '',
                escape = '',
                header = false,
                auto_detect = false,
                strict_mode = false,
                max_line_size = {{ var('landing_max_line_bytes') }},
                -- DuckDB reserves its read buffer (16 lines' worth by default, 32 MiB) for every file
                -- of the union at once: 150 files ran out of 3.5 GB; one line's worth, no slower
                buffer_size = {{ var('landing_max_line_bytes') }}
            ) with ordinality
            {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    {%- endif %}
    {{ landing_scans_end() }}
{% endmacro %}

{%- macro landing_scans_begin() %}/* landing scans */{% endmacro %}
{%- macro landing_scans_end() %}/* end of landing scans */{% endmacro %}

{#-
  stg_segment__events' post-hook: its statement parsed the first landing_files_per_statement new
  files; this parses the rest, as many statements of that many files each, by repeating the model's
  compiled SQL with each batch's scans in place of the first batch's. One statement for all files
  would set up every file scan at once (see the var).
-#}
{% macro load_remaining_landing_files() %}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set remaining = landing_files_to_load(skip_loaded=true) -%}
    {%- set before_scans, scans_and_after = model.compiled_code.split(landing_scans_begin()) -%}
    {%- set after_scans = scans_and_after.split(landing_scans_end())[1] -%}
    {%- for files in remaining | batch(var('landing_files_per_statement')) %}
        insert into {{ this }} by name
        {{ before_scans }}{{ read_landing_lines(files) }}{{ after_scans }};
    {%- endfor %}
{% endmacro %}

{#- Whether duplicate_events rereads discarded copies from landing files (unit tests turn it off). -#}
{% macro reread_landing_files() %}
    {{ return(true) }}
{% endmacro %}
